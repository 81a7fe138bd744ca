"""`make site`: a static site of the committed results, for reviewers: no server, plain HTML, CSS and a little JavaScript.

`results/site/index.html` holds the claims ledger of every notebook as one sortable, filterable table (seed, verdict,
value here against the seed's, n, interval, precondition), verdicts coloured, each claim linked to the cell of the
executed notebook that computed it; a page per notebook shows its figures, its summary tables and a link to the
executed notebook. Pages link to the figures and notebooks where they lie in the repository (nothing is copied), so
the site works from a clone's file system. `make site` also saves a screenshot of the index taken by headless
Chromium (`results/site/index.png`).
"""
from __future__ import annotations

import csv
import html
import json
import math
import os
from collections import Counter
from pathlib import Path

from .. import artifacts, paths
from ..errors import WorkbookError
from .profiles import discover_notebooks
from .status import notebook_status

VERDICT_ORDER = ("reproduced", "not reproduced", "inconclusive", "not testable here")
MAX_TABLE_ROWS, MAX_TABLE_COLUMNS = 40, 14  # larger CSV files are linked, not shown
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # no network here: Chromium's background requests would fail

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 0; color: #c9cfdb; }
header a { color: #9cc3ff; }
main { padding: 20px 32px 40px; }
.counts { display: flex; gap: 12px; flex-wrap: wrap; margin: 0 0 16px; }
.count { background: #fff; border-radius: 8px; padding: 10px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.count b { font-size: 22px; display: block; }
.controls { display: flex; gap: 10px; margin: 0 0 10px; flex-wrap: wrap; }
.controls input, .controls select { font: inherit; padding: 6px 10px; border: 1px solid #c7ccd6; border-radius: 6px; }
.controls input { width: 320px; }
table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); font-size: 13px; }
th, td { padding: 6px 9px; border-bottom: 1px solid #eceef2; text-align: left; vertical-align: top; }
th { background: #eef1f6; position: sticky; top: 0; cursor: pointer; white-space: nowrap; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { border-radius: 10px; padding: 2px 9px; font-size: 12px; white-space: nowrap; color: #fff; }
.v-reproduced { background: #1b9e5a; } .v-not-reproduced { background: #c8412e; }
.v-inconclusive { background: #d59b16; } .v-not-testable-here { background: #8a93a3; }
.claim { max-width: 420px; } .small { color: #5c6577; font-size: 12px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; padding: 10px; border-radius: 8px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
figure img { width: 100%; } figure.wide { grid-column: 1 / -1; } figcaption { font-size: 13px; color: #5c6577; }
nav a { margin-right: 14px; }
"""

JS = """
(function () {
  const table = document.getElementById('claims');
  if (!table) return;
  const body = table.tBodies[0];
  const search = document.getElementById('search'), verdict = document.getElementById('verdict'), seed = document.getElementById('seed');
  const shown = document.getElementById('shown');
  function filter() {
    const text = search.value.toLowerCase();
    let n = 0;
    for (const row of body.rows) {
      const ok = (!text || row.textContent.toLowerCase().includes(text)) &&
                 (!verdict.value || row.dataset.verdict === verdict.value) && (!seed.value || row.dataset.seed === seed.value);
      row.hidden = !ok; n += ok;
    }
    shown.textContent = n + ' of ' + body.rows.length + ' claims';
  }
  [search, verdict, seed].forEach(el => el.addEventListener('input', filter));
  Array.from(table.tHead.rows[0].cells).forEach((th, column) => th.addEventListener('click', () => {
    const ascending = !th.classList.contains('sorted-asc');
    Array.from(table.tHead.rows[0].cells).forEach(c => c.classList.remove('sorted-asc', 'sorted-desc'));
    th.classList.add(ascending ? 'sorted-asc' : 'sorted-desc');
    const key = row => { const cell = row.cells[column]; const v = cell.dataset.sort ?? cell.textContent.trim();
                         const x = parseFloat(v); return isNaN(x) ? v.toLowerCase() : x; };
    const rows = Array.from(body.rows).sort((a, b) => { const x = key(a), y = key(b);
      if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1; return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1); });
    rows.forEach(row => body.appendChild(row));
  }));
  filter();
})();
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def claim_cells(notebook: str, ids: list[str], root: Path) -> dict[str, str]:
    """{claim id: id of the executed notebook's cell that builds it}: the code cell whose source names the longest
    prefix of the id (ids are f-strings like f"S000-raw2-terse-{key}")."""
    executed = root / "results" / notebook / f"{notebook}.ipynb"
    if not executed.exists():
        return {}
    cells = [c for c in json.loads(executed.read_text())["cells"] if c.get("cell_type") == "code" and c.get("id")]
    sources = [("".join(c["source"]) if isinstance(c["source"], list) else c["source"], c["id"]) for c in cells]
    found = {}
    for claim_id in ids:
        parts = claim_id.split("-")
        for end in range(len(parts), 1, -1):
            prefix = "-".join(parts[:end])
            hit = next((cell for source, cell in sources if f'"{prefix}' in source or f"'{prefix}" in source), None)
            if hit:
                found[claim_id] = hit
                break
    return found


def load_claims(root: Path) -> list[dict]:
    """Every claim of every notebook's ledger, with its notebook and the cell that computed it."""
    claims = []
    for notebook in discover_notebooks():
        path = root / "results" / notebook / "claims.json"
        if not path.exists():
            continue
        records = json.loads(path.read_text())
        cells = claim_cells(notebook, [r["id"] for r in records], root)
        claims += [{**r, "notebook": notebook, "cell": cells.get(r["id"])} for r in records]
    return claims


def _head(title: str, subtitle: str, depth_link: str = "") -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<link rel='stylesheet' href='site.css'></head><body><header><h1>{_e(title)}</h1><p>{subtitle}</p></header><main>")


def _claim_row(c: dict, up: str) -> str:
    verdict = c.get("verdict", "")
    interval = f"[{_number(c.get('ci_low'))}, {_number(c.get('ci_high'))}]" if c.get("ci_low") is not None else ""
    link = f"{c['notebook']}.html"
    cell = (f"<a href='{up}/results/{c['notebook']}/{c['notebook']}.html#cell-id={c['cell']}'>cell</a>" if c.get("cell") else "")
    value = c.get("value_here")
    return (f"<tr id='{_e(c['id'])}' data-verdict='{_e(verdict)}' data-seed='{_e(c.get('seed', ''))}'>"
            f"<td>{_e(c.get('seed', ''))}</td><td class='claim'><b>{_e(c['id'])}</b><br>{_e(c.get('claim', ''))}</td>"
            f"<td data-sort='{VERDICT_ORDER.index(verdict) if verdict in VERDICT_ORDER else 9}'>"
            f"<span class='verdict v-{verdict.replace(' ', '-')}'>{_e(verdict)}</span></td>"
            f"<td class='num' data-sort='{'' if value is None else value}'>{_number(value)}</td>"
            f"<td class='small'>{_e(c.get('seed_value', ''))}</td><td class='num'>{_e(c.get('n') or '')}</td>"
            f"<td class='num'>{_e(interval)}</td>"
            f"<td class='small'>{_e(c.get('precondition', ''))}{'' if c.get('precondition_held', True) else ' (failed)'}</td>"
            f"<td><a href='{link}'>{_e(c['notebook'])}</a><br>{cell}</td></tr>")


def index_page(claims: list[dict], statuses: dict[str, tuple[str, str]], up: str) -> str:
    counts = Counter(c.get("verdict") for c in claims)
    seeds = sorted({c.get("seed", "") for c in claims})
    per_seed = Counter((c.get("seed"), c.get("verdict")) for c in claims)
    badges = "".join(f"<div class='count'><b>{counts.get(v, 0)}</b><span class='verdict v-{v.replace(' ', '-')}'>{v}</span></div>"
                     for v in VERDICT_ORDER)
    seed_rows = "".join(f"<tr><td>seed {_e(s)}</td>" + "".join(f"<td class='num'>{per_seed.get((s, v), 0)}</td>" for v in VERDICT_ORDER)
                        + "</tr>" for s in seeds)
    options = lambda values: "".join(f"<option value='{_e(v)}'>{_e(v)}</option>" for v in values)
    nav = "".join(f"<tr><td><a href='{nb}.html'>{nb}</a></td><td>{_e(state)}</td><td class='small'>{_e(reason)}</td>"
                  f"<td class='num'>{sum(c['notebook'] == nb for c in claims)}</td></tr>" for nb, (state, reason) in statuses.items())
    nav = f"<table><thead><tr><th>notebook</th><th>results</th><th>why</th><th>claims</th></tr></thead><tbody>{nav}</tbody></table>"
    return (_head("Activation-steering workbook: the claims ledger",
                  "Every seed claim tested here, with its value, n, 95 % interval, precondition and verdict, from the committed "
                  "results. Click a column to sort; each claim links to the notebook cell that computed it.")
            + f"<h2>Notebooks</h2>{nav}<h2>Verdicts</h2><div class='counts'>{badges}</div>"
            + "<table><thead><tr><th>seed</th>" + "".join(f"<th>{v}</th>" for v in VERDICT_ORDER) + f"</tr></thead><tbody>{seed_rows}</tbody></table>"
            + "<h2>Claims</h2><div class='controls'><input id='search' type='search' placeholder='filter: id, claim, model, note ...'>"
            + f"<select id='verdict'><option value=''>every verdict</option>{options(VERDICT_ORDER)}</select>"
            + f"<select id='seed'><option value=''>every seed</option>{options(seeds)}</select><span id='shown' class='small'></span></div>"
            + "<table id='claims'><thead><tr><th>seed</th><th>claim</th><th>verdict</th><th>value here</th><th>seed's value</th>"
            + "<th>n</th><th>95 % interval</th><th>precondition</th><th>where</th></tr></thead><tbody>"
            + "".join(_claim_row(c, up) for c in claims) + "</tbody></table><script src='site.js'></script></main></body></html>")


def _csv_table(path: Path) -> str | None:
    """A small CSV file as an HTML table (numbers rounded), or None when it is too large to show."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or len(rows) - 1 > MAX_TABLE_ROWS or len(rows[0]) > MAX_TABLE_COLUMNS:
        return None

    def cell(value: str) -> str:
        try:
            number = float(value)
        except ValueError:
            return f"<td>{_e(value)}</td>"
        return f"<td class='num'>{_e(value if number.is_integer() and '.' not in value else f'{number:.4g}')}</td>"

    head = "".join(f"<th>{_e(h)}</th>" for h in rows[0])
    return f"<table><thead><tr>{head}</tr></thead><tbody>" + "".join("<tr>" + "".join(map(cell, r)) + "</tr>" for r in rows[1:]) + "</tbody></table>"


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def notebook_page(notebook: str, root: Path, up: str) -> str:
    results, figures = root / "results" / notebook, root / "figures" / notebook
    manifest = json.loads((results / "manifest.json").read_text()) if (results / "manifest.json").exists() else {}
    ran = (f"profile {_e(manifest.get('profile'))}, finished {_e(manifest.get('finished_at'))}, "
           f"{manifest.get('wall_time_s', 0) / 60:.0f} min cold" if manifest else "no manifest: not run, or interrupted")
    executed = (f"<a href='{up}/results/{notebook}/{notebook}.html'>the executed notebook</a>" if (results / f"{notebook}.html").exists()
                else "no executed notebook")
    pictures = ""
    for png in sorted(figures.glob("*.png")):
        width, height = _png_size(png)
        source = f"{up}/figures/{notebook}/{png.name}"
        pictures += (f"<figure class='{'wide' if width > 2 * height else ''}'><a href='{source}'><img src='{source}' alt='{_e(png.stem)}'></a>"
                     f"<figcaption>{_e(png.stem)}</figcaption></figure>")
    tables, linked = [], []
    for path in sorted(results.glob("*.csv")):
        shown = _csv_table(path)
        if shown is None:
            linked.append(f"<a href='{up}/results/{notebook}/{path.name}'>{_e(path.name)}</a>")
        else:
            tables.append(f"<h3>{_e(path.name)}</h3>{shown}")
    return (_head(notebook, f"{ran} · {executed} · <a href='index.html'>all claims</a>")
            + f"<h2>Figures</h2><div class='figures'>{pictures or '<p>none</p>'}</div><h2>Tables</h2>" + "".join(tables)
            + (f"<p class='small'>Larger tables (CSV): {', '.join(linked)}</p>" if linked else "") + "</main></body></html>")


def site_dir(root: Path | None = None) -> Path:
    return (root or paths.output_root()) / "results" / "site"


def build_site(root: Path | None = None, target: Path | None = None) -> Path:
    """Write the site of the results under `root` (the output root) into `target` (<root>/results/site) and return its
    index. Pages link to the figures and executed notebooks under `root` by relative paths."""
    root = (root or paths.output_root()).resolve()
    claims = load_claims(root)
    if not claims:
        raise WorkbookError(f"No claims ledger under {root / 'results'}: run the notebooks first (`make paper`).")
    target = (target or site_dir(root)).resolve()
    target.mkdir(parents=True, exist_ok=True)
    up = Path(os.path.relpath(root, target)).as_posix()
    artifacts.atomic_write_text(target / "site.css", CSS)
    artifacts.atomic_write_text(target / "site.js", JS)
    for notebook in discover_notebooks():
        if (root / "results" / notebook).is_dir():
            artifacts.atomic_write_text(target / f"{notebook}.html", notebook_page(notebook, root, up))
    statuses = {nb: notebook_status(nb, paths.COMMITTED_PROFILE) for nb in discover_notebooks()}  # current / stale / missing
    artifacts.atomic_write_text(target / "index.html", index_page(claims, statuses, up))
    return target / "index.html"


def open_browser(playwright):
    """Headless Debian Chromium through Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        raise WorkbookError(f"Chromium is not installed at {CHROMIUM}: run `make browser` (Debian package chromium) and retry.")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def screenshot(index: Path, target: Path) -> Path:
    """A full-page PNG of the index as headless Chromium renders it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(index.resolve().as_uri())
        with artifacts.atomic_path(target) as temporary:
            page.screenshot(path=str(temporary), full_page=False)
        browser.close()
    return target
