"""Report: what people read — the terminal table (`progress`) and the nightly report per snapshot
date (`write`: an HTML page with its charts embedded, `html`/`charts`, and an XLSX workbook for the
office, `workbook`), all read from the published `bi` views (`data`)."""
