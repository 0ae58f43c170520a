//! `[state]`: where the ledger and lock live. Valid tables load; each
//! mistake gives a located error naming the field.

use schema::kinds::state_backend::BackendKind;
use schema::{load_bytes, LoadError};

fn errors(text: &str) -> Vec<String> {
    match load_bytes(&[("s.toml", text.as_bytes())]) {
        Err(LoadError::Invalid(d)) => d
            .errors()
            .map(|d| {
                let l = d.location.as_ref().map(|l| format!("{}:{}:{}", l.file.display(), l.line, l.column)).unwrap_or_default();
                format!("{} {l} {}", d.code, d.message)
            })
            .collect(),
        Ok(_) => Vec::new(),
        Err(e) => vec![format!("unexpected {e}")],
    }
}

#[test]
fn an_azurerm_table_loads_and_local_is_the_default() {
    let text = "[state]\nbackend = \"azurerm\"\nstorage_account = \"devstoreaccount1\"\ncontainer = \"tenantctl-state\"\nendpoint = \"http://127.0.0.1:10000/devstoreaccount1\"\nprefix = \"prod/eu\"\n";
    let state = load_bytes(&[("s.toml", text.as_bytes())]).unwrap();
    let s = &state.state.as_ref().unwrap().value;
    assert_eq!(s.backend, BackendKind::Azurerm);
    assert_eq!(s.container.as_deref(), Some("tenantctl-state"));
    assert_eq!(s.prefix.as_deref(), Some("prod/eu"));
    let state = load_bytes(&[("s.toml", b"[state]\n".as_slice())]).unwrap();
    assert_eq!(state.state.unwrap().value.backend, BackendKind::Local);
}

#[test]
fn mistakes_in_state_are_located() {
    let cases = [
        ("[state]\nbackend = \"s3\"\n", "s.toml:2:11", "s3"),
        ("[state]\nbackend = \"azurerm\"\ncontainer = \"c1c\"\n", "s.toml:2:1", "needs storage_account"),
        ("[state]\nbackend = \"azurerm\"\nstorage_account = \"Bad_Name\"\ncontainer = \"ok-c\"\n", "s.toml:3:1", "not a storage account name"),
        ("[state]\nbackend = \"azurerm\"\nstorage_account = \"acct\"\ncontainer = \"a--b\"\n", "s.toml:4:1", "not a container name"),
        ("[state]\nbackend = \"azurerm\"\nstorage_account = \"acct\"\ncontainer = \"abc\"\nprefix = \"../x\"\n", "s.toml:5:1", "not a prefix"),
        ("[state]\nbackend = \"azurerm\"\nstorage_account = \"acct\"\ncontainer = \"abc\"\nendpoint = \"ftp://x\"\n", "s.toml:5:1", "not an http(s) URL"),
        ("[state]\nbackend = \"azurerm\"\nstorage_account = \"acct\"\ncontainer = \"abc\"\nendpoint = \"https://u:p@x\"\n", "s.toml:5:1", "not an http(s) URL"),
        // A pull request cannot point the CI identity's storage token at its own server.
        ("[state]\nbackend = \"azurerm\"\nstorage_account = \"acct\"\ncontainer = \"abc\"\nendpoint = \"https://state.evil.example/acct\"\n", "s.toml:5:1", "not an Azure blob service endpoint"),
        ("[state]\nbackend = \"azurerm\"\nstorage_account = \"acct\"\ncontainer = \"abc\"\nendpoint = \"http://acct.blob.core.windows.net\"\n", "s.toml:5:1", "not an Azure blob service endpoint"),
        ("[state]\ncontainer = \"abc\"\n", "s.toml:2:1", "only an `azurerm` backend"),
        ("[state]\nbackend = \"local\"\nbucket = \"x\"\n", "s.toml:3:1", "bucket"),
    ];
    for (text, at, message) in cases {
        let errs = errors(text);
        assert!(errs.iter().any(|e| e.contains(at) && e.contains(message)), "{text:?}: expected {at} {message}, got {errs:?}");
    }
}
