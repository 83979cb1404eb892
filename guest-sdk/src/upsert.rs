//! The upsert driver every create-or-update write stream shares: parse the
//! document (refusing it before any call), find the record it targets, then
//! update that record or create a new one. A stream supplies the four steps
//! ([`Upsert`]); [`upsert`] runs them in that order, so no stream can post
//! before it looked, or look before it validated.

use crate::{Doc, Failure, Written};

/// The steps of one stream's create-or-update, over the connector's context `C`.
pub trait Upsert<C: ?Sized> {
    /// The stream's name, for messages (`write {STREAM} {key}`).
    const STREAM: &'static str;
    /// The validated request a document becomes.
    type Request;
    /// What [`Upsert::find`] knows of an existing record (its id, and whatever
    /// the update needs from it).
    type Existing;

    /// Validates `doc` into a request; a bad document is `rejected` here,
    /// before anything is sent.
    fn parse(&self, doc: &Doc) -> Result<Self::Request, Failure>;

    /// How the write is named in messages and failures.
    fn what(&self, doc: &Doc, _request: &Self::Request) -> String {
        format!("write {} {}", Self::STREAM, doc.key)
    }

    /// The existing record `request` targets, if any.
    fn find(
        &self,
        ctx: &mut C,
        what: &str,
        request: &Self::Request,
    ) -> Result<Option<Self::Existing>, Failure>;

    /// Creates the record; returns the target system's key for it.
    fn create(&self, ctx: &mut C, what: &str, request: Self::Request) -> Result<String, Failure>;

    /// Brings `existing` in line with `request`; returns its target key.
    fn update(
        &self,
        ctx: &mut C,
        what: &str,
        existing: Self::Existing,
        request: Self::Request,
    ) -> Result<String, Failure>;
}

/// Parses `doc`, finds its record, then updates it or creates one.
pub fn upsert<C: ?Sized, U: Upsert<C>>(
    stream: &U,
    ctx: &mut C,
    doc: &Doc,
) -> Result<Written, Failure> {
    let request = stream.parse(doc)?;
    let what = stream.what(doc, &request);
    let target_key = match stream.find(ctx, &what, &request)? {
        Some(existing) => stream.update(ctx, &what, existing, request)?,
        None => stream.create(ctx, &what, request)?,
    };
    Ok(Written {
        key: doc.key.clone(),
        target_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fail;

    /// Records in a vector; the request is the record's name.
    struct Names;

    impl Upsert<Vec<String>> for Names {
        const STREAM: &'static str = "names";
        type Request = String;
        type Existing = usize;

        fn parse(&self, doc: &Doc) -> Result<String, Failure> {
            match doc.body.trim() {
                "" => Err(fail::rejected(format!("write names {}: empty", doc.key))),
                name => Ok(name.to_string()),
            }
        }
        fn find(
            &self,
            ctx: &mut Vec<String>,
            _: &str,
            r: &String,
        ) -> Result<Option<usize>, Failure> {
            Ok(ctx.iter().position(|n| n.eq_ignore_ascii_case(r)))
        }
        fn create(&self, ctx: &mut Vec<String>, _: &str, r: String) -> Result<String, Failure> {
            ctx.push(r);
            Ok((ctx.len() - 1).to_string())
        }
        fn update(
            &self,
            ctx: &mut Vec<String>,
            _: &str,
            at: usize,
            r: String,
        ) -> Result<String, Failure> {
            ctx[at] = r;
            Ok(at.to_string())
        }
    }

    fn doc(key: &str, body: &str) -> Doc {
        Doc {
            key: key.into(),
            body: body.into(),
        }
    }

    #[test]
    fn a_found_record_is_updated_and_a_new_one_created() {
        let mut names = vec!["ada".to_string()];
        let w = upsert(&Names, &mut names, &doc("k1", "Ada")).unwrap();
        assert_eq!((w.key.as_str(), w.target_key.as_str()), ("k1", "0"));
        let w = upsert(&Names, &mut names, &doc("k2", "Bob")).unwrap();
        assert_eq!(w.target_key, "1");
        assert_eq!(names, vec!["Ada", "Bob"]);
    }

    #[test]
    fn a_bad_document_is_refused_before_the_find() {
        let mut names = Vec::new();
        assert!(matches!(
            upsert(&Names, &mut names, &doc("k", " ")),
            Err(Failure::Rejected(m)) if m == "write names k: empty"
        ));
        assert!(names.is_empty());
    }
}
