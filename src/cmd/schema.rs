use anyhow::Context;
use std::path::Path;

/// Prints every contract schema, or writes them (the checked-in copies live in deploy/schema).
pub fn run(out: Option<&Path>) -> anyhow::Result<()> {
    for (name, schema) in xueliang_core::contract::schemas() {
        let text = serde_json::to_string_pretty(&schema)? + "\n";
        match out {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            None => println!("// {name}\n{text}"),
        }
    }
    Ok(())
}
