//! Block directories: `meta.json`, `index`, `chunks/`, `tombstones`, written atomically.
