//! The README (and the guide) show only code that exists: every ```rust block in them must
//! stand, verbatim, in a file of `src/` or `tests/`, which the build
//! compiles, the suite runs and `cargo fmt --check` checks. A recipe edited
//! in one place and not the other fails here.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn rust_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        let fence = line.trim_start();
        match &mut current {
            None if fence == "```rust" => current = Some(Vec::new()),
            Some(lines) if fence == "```" => {
                // Indented blocks (inside lists) lose their indentation.
                let indent = line.len() - fence.len();
                let text: Vec<&str> = lines
                    .iter()
                    .map(|l| l.get(indent..).unwrap_or(""))
                    .collect();
                blocks.push(text.join("\n"));
                current = None;
            }
            Some(lines) => lines.push(line),
            None => {}
        }
    }
    blocks
}

#[test]
fn every_rust_block_in_the_readme_is_real_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    rust_files(&root.join("src"), &mut sources);
    rust_files(&root.join("tests"), &mut sources);
    // The README's recipes, and their tests in the guide (its other code,
    // such as verifying tokens in another service, is for other programs).
    for (doc, from, at_least) in [
        ("README.md", "", 4),
        ("docs/guide.md", "## Testing your routes", 4),
    ] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let text = &text[text.find(from).expect("the section")..];
        let blocks = rust_blocks(text);
        assert!(blocks.len() >= at_least, "{doc} shows code");
        for block in blocks {
            assert!(
                sources.iter().any(|s| s.contains(&block)),
                "this {doc} block is not in src/ or tests/ as written:\n{block}"
            );
        }
    }
}
