//! The manifest as a TOML document that tests edit by key (`toml_edit`, which
//! keeps the shipped comments and layout), never by replacing text: a key the
//! shipped manifest renames or drops fails the edit by name instead of
//! silently leaving the test on the default.

use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

/// The tenant of the shipped manifest.
pub const TENANT: &str = "sandbox";

/// A manifest being edited.
#[derive(Debug, Clone)]
pub struct Manifest {
    doc: DocumentMut,
}

impl Manifest {
    /// Parses `text`; panics naming the TOML error (a test's manifest is
    /// always TOML; a test of unparsable text writes the text itself).
    pub fn parse(text: &str) -> Manifest {
        Manifest {
            doc: text
                .parse()
                .unwrap_or_else(|e| panic!("the manifest is not TOML: {e}")),
        }
    }

    /// The shipped manifest (`manifest.toml` at the workspace root).
    pub fn shipped() -> Manifest {
        Manifest::parse(mlc_host::bundled::MANIFEST)
    }

    /// The whole document, for edits the helpers below do not name.
    pub fn doc(&mut self) -> &mut DocumentMut {
        &mut self.doc
    }

    /// The `[store]` table.
    pub fn store(&mut self) -> &mut Table {
        table_at(self.doc.as_table_mut(), &["store"])
    }

    /// `[tenants.<tenant>]`.
    pub fn tenant(&mut self, tenant: &str) -> &mut Table {
        table_at(self.doc.as_table_mut(), &["tenants", tenant])
    }

    /// `[tenants.sandbox.connections.<name>]`.
    pub fn connection(&mut self, name: &str) -> &mut Table {
        table_at(
            self.doc.as_table_mut(),
            &["tenants", TENANT, "connections", name],
        )
    }

    /// `[tenants.sandbox.flows.<name>]`.
    pub fn flow(&mut self, name: &str) -> &mut Table {
        table_at(self.doc.as_table_mut(), &["tenants", TENANT, "flows", name])
    }

    /// The names of the shipped tenant's flows, in manifest order.
    pub fn flow_names(&mut self) -> Vec<String> {
        table_at(self.doc.as_table_mut(), &["tenants", TENANT, "flows"])
            .iter()
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// Turns flow `name` on or off.
    pub fn enable_flow(&mut self, name: &str, enabled: bool) {
        self.flow(name)["enabled"] = toml_edit::value(enabled);
    }

    /// Every flow that has an `every` schedule runs every `every` instead.
    pub fn every_flow_every(&mut self, every: &str) {
        for name in self.flow_names() {
            let flow = self.flow(&name);
            if flow.contains_key("every") {
                flow["every"] = toml_edit::value(every);
            }
        }
    }

    /// The `auth` inline table of connection `name`.
    pub fn auth(&mut self, connection: &str) -> &mut InlineTable {
        inline(self.connection(connection), "auth")
    }

    /// A copy of tenant `from` under the name `to` (its connections, flows
    /// and their settings); returns the copy.
    pub fn copy_tenant(&mut self, from: &str, to: &str) -> &mut Table {
        let copy = self.tenant(from).clone();
        let tenants = table_at(self.doc.as_table_mut(), &["tenants"]);
        tenants.insert(to, Item::Table(copy));
        self.tenant(to)
    }

    /// Points the connections of `tenant` at the Procurify and PeopleSoft
    /// systems at these base URLs (Procurify's token endpoint included).
    pub fn point_at(&mut self, tenant: &str, procurify: &str, peoplesoft: &str) {
        let connections = table_at(self.doc.as_table_mut(), &["tenants", tenant, "connections"]);
        let procurify_conn = table_at(connections, &["procurify"]);
        procurify_conn["base_url"] = toml_edit::value(procurify);
        inline(procurify_conn, "auth")
            .insert("token_url", format!("{procurify}/oauth/token").into());
        table_at(connections, &["peoplesoft"])["base_url"] = toml_edit::value(peoplesoft);
    }

    /// Adds the tables of `fragment` (TOML text, e.g. a tenant of its own)
    /// to the manifest; a table the manifest already has gains the
    /// fragment's keys.
    pub fn merge(&mut self, fragment: &str) {
        let fragment = Manifest::parse(fragment);
        merge_into(self.doc.as_table_mut(), fragment.doc.as_table());
    }

    /// The manifest as TOML text.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }
}

/// The table at `path` below `table`, panicking with the path when a part
/// is missing or not a table.
fn table_at<'a>(table: &'a mut Table, path: &[&str]) -> &'a mut Table {
    let mut here = table;
    for (i, key) in path.iter().enumerate() {
        here = here
            .get_mut(key)
            .and_then(Item::as_table_mut)
            .unwrap_or_else(|| panic!("the manifest has no table {}", path[..=i].join(".")));
    }
    here
}

/// The inline table `field` of `table` (a connection's `auth`, a flow's
/// `retry`), panicking when the manifest has none there.
pub fn inline<'a>(table: &'a mut Table, field: &str) -> &'a mut InlineTable {
    table
        .get_mut(field)
        .and_then(Item::as_inline_table_mut)
        .unwrap_or_else(|| panic!("the manifest has no inline table {field:?} here"))
}

fn merge_into(into: &mut Table, from: &Table) {
    for (key, item) in from.iter() {
        match (into.get_mut(key), item) {
            (Some(Item::Table(existing)), Item::Table(new)) => merge_into(existing, new),
            _ => {
                into.insert(key, item.clone());
            }
        }
    }
}

/// A TOML string literal of `text` (quoted and escaped), for fragments
/// given to [`Manifest::merge`].
pub fn quoted(text: &str) -> String {
    Value::from(text).to_string().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_by_key_keep_the_rest_of_the_shipped_manifest() {
        let mut m = Manifest::shipped();
        m.store()["lease_secs"] = toml_edit::value(3);
        m.enable_flow("purchase-orders-to-peoplesoft", true);
        m.auth("peoplesoft").insert("scheme", "kerberos".into());
        let text = m.text();
        assert!(text.contains("lease_secs = 3"), "{text}");
        assert!(text.contains("# The vault key"), "comments are kept");
        let parsed: toml_edit::DocumentMut = text.parse().unwrap();
        assert_eq!(
            parsed["tenants"]["sandbox"]["flows"]["purchase-orders-to-peoplesoft"]["enabled"]
                .as_bool(),
            Some(true)
        );
        assert_eq!(
            parsed["tenants"]["sandbox"]["connections"]["peoplesoft"]["auth"]["scheme"].as_str(),
            Some("kerberos")
        );
    }

    #[test]
    #[should_panic(expected = "the manifest has no table tenants.sandbox.flows.no-such-flow")]
    fn an_edit_of_a_flow_the_manifest_lacks_names_it() {
        Manifest::shipped().flow("no-such-flow");
    }

    #[test]
    fn a_copied_tenant_points_at_its_own_systems() {
        let mut m = Manifest::shipped();
        m.copy_tenant(TENANT, "globex");
        m.point_at("globex", "http://127.0.0.1:1", "http://127.0.0.1:2");
        let parsed: toml_edit::DocumentMut = m.text().parse().unwrap();
        let globex = &parsed["tenants"]["globex"]["connections"];
        assert_eq!(
            globex["procurify"]["base_url"].as_str(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            globex["procurify"]["auth"]["token_url"].as_str(),
            Some("http://127.0.0.1:1/oauth/token")
        );
        assert_eq!(
            globex["peoplesoft"]["base_url"].as_str(),
            Some("http://127.0.0.1:2")
        );
        let sandbox = &parsed["tenants"]["sandbox"]["connections"];
        assert_eq!(
            sandbox["peoplesoft"]["base_url"].as_str(),
            Some("http://127.0.0.1:8702"),
            "the original tenant is unchanged"
        );
    }

    #[test]
    fn a_merged_fragment_adds_tables_and_keys() {
        let mut m = Manifest::shipped();
        m.merge(&format!(
            "[tenants.runaway.connections.bad]\nconnector = {}\nbase_url = \"http://127.0.0.1:9\"\n",
            quoted("/tmp/a \"b\".wasm")
        ));
        let parsed: toml_edit::DocumentMut = m.text().parse().unwrap();
        assert_eq!(
            parsed["tenants"]["runaway"]["connections"]["bad"]["connector"].as_str(),
            Some("/tmp/a \"b\".wasm")
        );
        assert!(parsed["tenants"]["sandbox"]["flows"].is_table());
    }
}
