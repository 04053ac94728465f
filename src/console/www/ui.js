// Small building blocks of the pages: elements (text is always set as
// text, never parsed as HTML), dates, sizes, dialogs, copy buttons, tables.

// Replaces el's children, leaving out the null/false/undefined of conditionals.
export function put(el, ...kids) {
  el.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
  return el;
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// A date in the browser's local time, with the UTC value on hover.
export function when(value) {
  if (value === undefined || value === null || value === '') return h('span', { class: 'muted' }, '-');
  const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (isNaN(d)) return h('span', {}, String(value));
  const local = d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  return h('time', { datetime: d.toISOString(), title: d.toISOString().replace('.000Z', 'Z') + ' (UTC)' }, local);
}

// Sizes as ECR's console shows them: MiB with two decimals.
export function mib(bytes) {
  if (bytes === undefined || bytes === null) return '-';
  return (bytes / 1048576).toFixed(2);
}

export function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 3000);
}

// An alert box that shows an API's error as AWS words it.
export function errorBox() {
  const box = h('div', { class: 'alert', role: 'alert', hidden: true });
  box.show = (err) => {
    put(box,
      h('strong', {}, err.type && err.type !== 'Error' ? err.type + ': ' : ''),
      h('span', { class: 'msg' }, err.message || String(err)));
    box.hidden = false;
    box.scrollIntoView({ block: 'nearest' });
  };
  box.clear = () => { box.hidden = true; box.replaceChildren(); };
  return box;
}

export function copyButton(value, label = 'Copy') {
  return h('button', {
    type: 'button', class: 'copy', 'aria-label': `${label}: ${value}`, title: 'Copy to clipboard',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        toast('Copied');
      } catch (e) {
        toast('Copy failed: select the text and copy it');
      }
    },
  }, 'Copy');
}

// A modal dialog; resolves true when confirmed. body is a node; confirm
// may name a word to type first (as ECR's console asks for "delete").
export function dialog({ title, body, confirmLabel = 'Confirm', danger = false, typeToConfirm = null, wide = false, cancel = true }) {
  return new Promise((resolve) => {
    const input = typeToConfirm
      ? h('input', { id: 'confirm-word', autocomplete: 'off', 'aria-describedby': 'confirm-hint' }) : null;
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', disabled: !!typeToConfirm }, confirmLabel);
    const cancelBtn = cancel ? h('button', { type: 'button', onclick: () => close(false) }, 'Cancel') : null;
    const form = h('form', { method: 'dialog' },
      h('h2', {}, title),
      body,
      typeToConfirm ? h('p', { id: 'confirm-hint' }, 'To confirm, type ', h('code', {}, typeToConfirm), ' in the field.') : null,
      typeToConfirm ? h('label', { for: 'confirm-word', class: 'sr-only' }, `Type ${typeToConfirm}`) : null,
      input,
      h('div', { class: 'actions' }, cancelBtn, ok));
    const dlg = h('dialog', { class: wide ? 'wide' : '', 'aria-label': title }, form);
    if (input) input.addEventListener('input', () => { ok.disabled = input.value !== typeToConfirm; });
    form.addEventListener('submit', (e) => { e.preventDefault(); close(true); });
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(false); });
    function close(v) {
      dlg.close();
      dlg.remove();
      resolve(v);
    }
    document.body.append(dlg);
    dlg.showModal();
    (input || ok).focus();
  });
}

// A table from columns [{label, cell(row) -> node|string, class}] and rows.
export function table(columns, rows, { empty = 'Nothing to show', caption } = {}) {
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)));
  const body = rows.length
    ? rows.map((r) => (r instanceof HTMLTableRowElement ? r : h('tr', {}, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty))];
  return h('div', { class: 'table-wrap' },
    h('table', {}, caption ? h('caption', { class: 'sr-only' }, caption) : null, h('thead', {}, head), h('tbody', {}, body)));
}

// Previous/next over a server-side token list.
export function pager({ page, hasPrev, hasNext, onPrev, onNext }) {
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: !hasPrev, onclick: onPrev, 'aria-label': 'Previous page' }, '‹'),
    h('span', {}, `Page ${page}`),
    h('button', { type: 'button', disabled: !hasNext, onclick: onNext, 'aria-label': 'Next page' }, '›'));
}

export function tabs(items, active) {
  return h('nav', { class: 'tabs', 'aria-label': 'Sections' },
    items.map(([label, href]) => h('a', { href, 'aria-current': label === active ? 'page' : null }, label)));
}

export function field(label, input, hint) {
  const id = input.id || ('f' + Math.random().toString(36).slice(2));
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

export function page(title, ...children) {
  document.title = `${title} – berth console`;
  const main = document.getElementById('main');
  put(main, h('h1', {}, title), ...children);
  return main;
}

export function enc(s) {
  return encodeURIComponent(s);
}
