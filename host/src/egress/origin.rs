//! Typed origins (scheme, host, port): the unit of the egress allowlist.

use std::fmt;

/// An origin: scheme, lower-case host and explicit port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or IP literal, lower case (IPv6 without brackets).
    pub host: String,
    /// Port (the scheme's default when the URL has none).
    pub port: u16,
}

/// Why a URL has no usable origin.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid URL {url:?}: {reason}")]
pub struct OriginError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Origin {
    /// The origin of an absolute `http`/`https` URL (user info refused).
    pub fn parse(url: &str) -> Result<Origin, OriginError> {
        let err = |reason: &str| OriginError {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| err(&e.to_string()))?;
        let scheme = parsed.scheme().to_string();
        if scheme != "http" && scheme != "https" {
            return Err(err("the scheme must be http or https"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(err(
                "credentials in the URL are not allowed; configure an auth scheme instead",
            ));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(err("the URL has no host")),
        };
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| err("the URL has no port"))?;
        Ok(Origin { scheme, host, port })
    }

    /// The origin a request URI targets, if it is absolute http(s).
    pub fn of_uri(uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        Some(Origin {
            scheme,
            host,
            port: authority.port_u16().unwrap_or(default_port),
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_are_made_explicit_and_hosts_lowercased() {
        let o = Origin::parse("https://Acme.Procurify.com/api/v3/").unwrap();
        assert_eq!(o.to_string(), "https://acme.procurify.com:443");
        assert_eq!(Origin::parse("http://ps.local:8000").unwrap().port, 8000);
    }

    #[test]
    fn same_host_other_port_or_scheme_is_another_origin() {
        let a = Origin::parse("http://127.0.0.1:8000").unwrap();
        assert_ne!(a, Origin::parse("http://127.0.0.1:8001").unwrap());
        assert_ne!(a, Origin::parse("https://127.0.0.1:8000").unwrap());
    }

    #[test]
    fn uri_origin_matches_url_origin() {
        let uri: http::Uri = "http://LOCALHOST:9/x?y".parse().unwrap();
        assert_eq!(
            Origin::of_uri(&uri),
            Some(Origin::parse("http://localhost:9").unwrap())
        );
        let v6: http::Uri = "http://[::1]:8080/".parse().unwrap();
        assert_eq!(
            Origin::of_uri(&v6).unwrap().to_string(),
            "http://[::1]:8080"
        );
    }

    #[test]
    fn userinfo_and_other_schemes_are_refused() {
        assert!(Origin::parse("http://u:p@h/").is_err());
        assert!(Origin::parse("ftp://h/").is_err());
        assert!(Origin::parse("not a url").is_err());
    }
}
