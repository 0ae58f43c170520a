//! The loader never panics: arbitrary bytes, and arbitrary mutations of the
//! example tenant's files, give Ok or located errors.

use proptest::prelude::*;

fn example_files() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../desired-state");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn check(files: &[(String, Vec<u8>)]) {
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let located = |diag: &schema::Diagnostic| {
        let loc = diag.location.as_ref().expect("every problem is located");
        assert!(loc.line >= 1 && loc.column >= 1, "{diag}");
        assert!(
            files
                .iter()
                .any(|(p, _)| loc.file == std::path::Path::new(p)),
            "{diag} names a file that was not loaded"
        );
        // Rendering never panics either.
        let _ = diag.to_string();
    };
    match schema::load_bytes(&refs) {
        Ok(state) => state.warnings.0.iter().for_each(located),
        Err(schema::LoadError::Invalid(d)) => {
            assert!(d.has_errors());
            d.0.iter().for_each(located);
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        file: usize,
        at: usize,
        byte: u8,
    },
    Truncate {
        file: usize,
        at: usize,
    },
    DeleteLine {
        file: usize,
        line: usize,
    },
    DuplicateLine {
        file: usize,
        line: usize,
    },
    Insert {
        file: usize,
        at: usize,
        text: String,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0usize..16, any::<usize>(), any::<u8>()).prop_map(|(file, at, byte)| Mutation::Flip {
            file,
            at,
            byte
        }),
        (0usize..16, any::<usize>()).prop_map(|(file, at)| Mutation::Truncate { file, at }),
        (0usize..16, any::<usize>()).prop_map(|(file, line)| Mutation::DeleteLine { file, line }),
        (0usize..16, any::<usize>())
            .prop_map(|(file, line)| Mutation::DuplicateLine { file, line }),
        (
            0usize..16,
            any::<usize>(),
            prop::sample::select(vec![
                "[",
                "]",
                "\"",
                "=",
                "\n[group.x]\n",
                "members = [\"x\"]\n",
                "{",
                "é",
                "\u{0}",
                "1e99",
                "-",
                "."
            ])
        )
            .prop_map(|(file, at, text)| Mutation::Insert {
                file,
                at,
                text: text.to_string()
            }),
    ]
}

fn apply(files: &mut [(String, Vec<u8>)], m: &Mutation) {
    let n = files.len();
    let pick = |f: usize| f % n;
    match m {
        Mutation::Flip { file, at, byte } => {
            let b = &mut files[pick(*file)].1;
            if !b.is_empty() {
                let i = at % b.len();
                b[i] = *byte;
            }
        }
        Mutation::Truncate { file, at } => {
            let b = &mut files[pick(*file)].1;
            let i = at % (b.len() + 1);
            b.truncate(i);
        }
        Mutation::DeleteLine { file, line } | Mutation::DuplicateLine { file, line } => {
            let b = &mut files[pick(*file)].1;
            let mut lines: Vec<Vec<u8>> = b.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect();
            if lines.is_empty() {
                return;
            }
            let i = line % lines.len();
            if matches!(m, Mutation::DeleteLine { .. }) {
                lines.remove(i);
            } else {
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            *b = lines.join(&b'\n');
        }
        Mutation::Insert { file, at, text } => {
            let b = &mut files[pick(*file)].1;
            let i = at % (b.len() + 1);
            b.splice(i..i, text.bytes());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&[("fuzz.toml".to_string(), bytes)]);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(\\[[a-z_.\"-]{0,12}\\]\n|[a-z_]{1,12} = (\"[^\"\n]{0,12}\"|[0-9-]{1,4}|\\[\\]|true|\\{\\})\n|#[^\n]{0,10}\n){0,12}") {
        check(&[("fuzz.toml".to_string(), text.into_bytes())]);
    }

    #[test]
    fn several_arbitrary_files_never_panic(
        files in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..256), 1..4)
    ) {
        let named: Vec<(String, Vec<u8>)> = files
            .into_iter()
            .enumerate()
            .map(|(i, b)| (format!("dir{i}/f.toml"), b))
            .collect();
        check(&named);
    }

    #[test]
    fn mutated_example_never_panics(mutations in prop::collection::vec(mutation(), 1..6)) {
        let mut files = example_files();
        for m in &mutations {
            apply(&mut files, m);
        }
        check(&files);
    }
}
