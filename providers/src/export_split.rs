//! Export's files: a kind too big for one file is written in parts, each
//! within the loader's limit.

use std::collections::BTreeMap;

/// The most one exported file holds: half the loader's default file limit
/// (`schema::read::DEFAULT_MAX_FILE_BYTES`), so an exported large tenant
/// loads again without raising it (100k users made one 18 MB file).
pub(crate) const FILE_BUDGET: usize = (schema::read::DEFAULT_MAX_FILE_BYTES / 2) as usize;

/// The `[name.KEY]` tables of `items` as TOML: one file named `file` when
/// it fits in `budget` bytes, else parts `users-001.toml`, `users-002.toml`,
/// ... each within it (in key order, so exports stay deterministic).
pub(crate) fn split_table<T: serde::Serialize>(file: &str, name: &str, items: &BTreeMap<String, T>, budget: usize) -> Result<Vec<(String, String)>, toml::ser::Error> {
    // As `put` writes a table: through `toml::Value`, so a part reads
    // exactly as the whole file did. One item at a time: each item is a
    // table of its own (`[name.KEY]`, its sub-tables after it), so the
    // renders of the items, joined by the blank line between tables, are
    // the render of them all; the document model of a whole kind (at 100k
    // objects several times the memory of its text) is never built. Each
    // item is rendered once: a part is the run of the whole text from its
    // first item to its last (a kind too big for one file was rendered
    // whole, then item by item to size the parts, then part by part: 35%
    // of `export`'s CPU at 100k, issue 13).
    let mut whole = String::new();
    // Where each item's text ends in `whole`; it starts after the one
    // before it and the newline that separates them.
    let mut ends = Vec::with_capacity(items.len());
    for (k, v) in items {
        let mut root = toml::Table::new();
        root.insert(name.to_string(), toml::Value::try_from(BTreeMap::from([(k, v)]))?);
        if !whole.is_empty() {
            whole.push('\n');
        }
        whole.push_str(&toml::to_string_pretty(&root)?);
        ends.push(whole.len());
    }
    if whole.len() <= budget {
        return Ok(vec![(file.to_string(), whole)]);
    }
    let stem = file.strip_suffix(".toml").unwrap_or(file);
    let mut parts = Vec::new();
    // The part being filled: from the start of its first item, with the
    // sum of its items' own sizes (what decides where it ends).
    let (mut first, mut size, mut last_end) = (None::<usize>, 0, 0);
    let mut start = 0;
    for &end in &ends {
        // Each item's own size decides where a part ends.
        let one = end - start;
        if let Some(from) = first {
            if size + one > budget {
                parts.push(whole[from..last_end].to_string());
                first = None;
                size = 0;
            }
        }
        first.get_or_insert(start);
        size += one;
        last_end = end;
        start = end + 1;
    }
    if let Some(from) = first {
        parts.push(whole[from..last_end].to_string());
    }
    Ok(parts.into_iter().enumerate().map(|(i, body)| (format!("{stem}-{:03}.toml", i + 1), body)).collect())
}

#[cfg(test)]
mod split_tests {
    use super::split_table;
    use std::collections::BTreeMap;

    #[test]
    fn a_kind_too_big_for_one_file_is_split_in_key_order_and_loads_back_whole() {
        let items: BTreeMap<String, BTreeMap<String, String>> = (0..50)
            .map(|i| (format!("u{i:03}"), BTreeMap::from([("display_name".to_string(), format!("User {i} {}", "x".repeat(40)))])))
            .collect();
        let one = split_table("users.toml", "user", &items, 1 << 20).expect("renders");
        assert_eq!(one.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["users.toml"]);
        let parts = split_table("users.toml", "user", &items, 600).expect("renders");
        assert!(parts.len() > 3, "{} parts", parts.len());
        let mut back = BTreeMap::new();
        for (i, (file, body)) in parts.iter().enumerate() {
            assert_eq!(file, &format!("users-{:03}.toml", i + 1));
            assert!(body.len() <= 600, "{file} is {} bytes", body.len());
            let t: toml::Table = toml::from_str(body).expect("each part parses");
            for (k, v) in t["user"].as_table().expect("a table of users") {
                assert!(back.insert(k.clone(), v.clone()).is_none(), "{k} in two parts");
            }
        }
        let keys: Vec<&String> = back.keys().collect();
        assert_eq!(keys, items.keys().collect::<Vec<_>>());
        // Deterministic: the same items give the same parts.
        assert_eq!(parts, split_table("users.toml", "user", &items, 600).expect("renders"));
    }

    /// Rendered an item at a time, the file is byte for byte the render of
    /// the whole table at once, nested tables and arrays of tables
    /// included; and so is every part, of the items it holds.
    #[test]
    fn rendering_in_runs_of_items_is_rendering_the_whole_table() {
        #[derive(serde::Serialize)]
        struct Item {
            name: String,
            empty: Vec<String>,
            list: Vec<String>,
            settings: BTreeMap<String, BTreeMap<String, i64>>,
            rows: Vec<BTreeMap<String, String>>,
        }
        let items: BTreeMap<String, Item> = (0..519)
            .map(|i| {
                let item = Item {
                    name: format!("Item \"{i}\""),
                    empty: Vec::new(),
                    list: (0..i % 4).map(|j| format!("m{j}")).collect(),
                    settings: BTreeMap::from([(format!("s{}", i % 3), BTreeMap::from([("v".to_string(), i as i64)]))]),
                    rows: (0..i % 2).map(|j| BTreeMap::from([("k".to_string(), format!("r{j}"))])).collect(),
                };
                (format!("k{i:04}"), item)
            })
            .collect();
        let mut root = toml::Table::new();
        root.insert("policy".to_string(), toml::Value::try_from(&items).expect("a TOML value"));
        let whole = toml::to_string_pretty(&root).expect("renders");
        let parts = split_table("p.toml", "policy", &items, usize::MAX).expect("renders");
        assert_eq!(parts, vec![("p.toml".to_string(), whole)]);
        // Split: the parts the previous build wrote, each rendered whole
        // (and sized by each item rendered alone).
        let render = |part: &BTreeMap<&String, &Item>| {
            let mut root = toml::Table::new();
            root.insert("policy".to_string(), toml::Value::try_from(part).expect("a TOML value"));
            toml::to_string_pretty(&root).expect("renders")
        };
        for budget in [150, 2_000, 9_000] {
            let mut expected = Vec::new();
            let (mut current, mut size) = (BTreeMap::new(), 0);
            for (k, v) in &items {
                let one = render(&BTreeMap::from([(k, v)])).len();
                if !current.is_empty() && size + one > budget {
                    expected.push(render(&std::mem::take(&mut current)));
                    size = 0;
                }
                current.insert(k, v);
                size += one;
            }
            expected.push(render(&current));
            let parts = split_table("p.toml", "policy", &items, budget).expect("renders");
            assert!(parts.len() > 1, "{budget}: {} part(s)", parts.len());
            assert_eq!(parts.into_iter().map(|(_, body)| body).collect::<Vec<_>>(), expected, "budget {budget}");
        }
    }
}
