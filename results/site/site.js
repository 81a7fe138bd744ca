
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
