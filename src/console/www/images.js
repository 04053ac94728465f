// A repository's Images tab (server-side pages of DescribeImages, index
// children nested under their index, multi-select delete behind a dialog)
// and an image's detail (manifest, layers, config, scan findings).
import * as api from './api.js';
import { h, put, page, when, mib, errorBox, copyButton, dialog, table, pager, toast, enc } from './ui.js';
import { repoTabs } from './repos.js';

const PAGE_SIZE = 50;
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const ALL_TYPES = INDEX_TYPES.concat(['application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json']);
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED'];

function shortDigest(d) {
  return d ? d.slice(0, 19) + '…' : '';
}

// As ECR's console: an image when its config is an image config, else an artifact.
function artifactType(img) {
  const t = img.artifactMediaType || '';
  return !t || t.includes('image.config') || t.includes('container.image') ? 'Image' : 'Artifact';
}

function scanCell(img) {
  const st = img.imageScanStatus?.status;
  if (!st) return h('span', { class: 'muted' }, '-');
  const counts = img.imageScanFindingsSummary?.findingSeverityCounts || {};
  const parts = SEVERITIES.filter((s) => counts[s]).map((s) => h('span', { class: `sev sev-${s.toLowerCase()}`, title: s }, `${s[0]}${counts[s]}`));
  return h('span', { class: 'nowrap' }, st === 'COMPLETE' ? (parts.length ? parts : 'No findings') : st);
}

export async function list(name) {
  const err = errorBox();
  const tokens = [undefined];
  let index = 0;
  const chosen = new Map();
  const holder = h('div', {});
  const del = h('button', { type: 'button', class: 'danger', id: 'images-delete', disabled: true }, 'Delete');
  const count = h('span', { class: 'muted', id: 'images-selected' });
  const sync = () => {
    del.disabled = chosen.size === 0;
    count.textContent = chosen.size ? `${chosen.size} selected` : '';
  };

  function row(img, child) {
    const digest = img.imageDigest;
    const isIndex = INDEX_TYPES.includes(img.imageManifestMediaType);
    const pick = h('input', {
      type: 'checkbox', 'aria-label': `Select ${(img.imageTags || [])[0] || digest}`, checked: chosen.has(digest),
      onchange: (e) => { if (e.target.checked) chosen.set(digest, img); else chosen.delete(digest); sync(); },
    });
    const toggle = isIndex ? h('button', {
      type: 'button', class: 'twisty', 'aria-expanded': 'false', 'aria-label': 'Show the images of this index',
      onclick: () => expand(tr, toggle, img),
    }, '▸') : null;
    const tr = h('tr', { class: child ? 'child' : '', 'data-digest': digest },
      h('td', { class: 'pick' }, pick),
      h('td', { 'data-label': 'Image tags' }, toggle, child ? h('span', { class: 'muted' }, '↳ ') : null,
        (img.imageTags || []).length ? (img.imageTags || []).join(', ') : h('span', { class: 'muted' }, '<untagged>')),
      h('td', { 'data-label': 'Artifact type' }, isIndex ? 'Image Index' : artifactType(img)),
      h('td', { 'data-label': 'Pushed at' }, when(img.imagePushedAt)),
      h('td', { 'data-label': 'Size (MB)', class: 'num' }, mib(img.imageSizeInBytes)),
      h('td', { 'data-label': 'Image URI', class: 'nowrap' }, copyButton(`${uriBase}@${digest}`, 'Copy URI')),
      h('td', { 'data-label': 'Digest', class: 'nowrap' },
        h('a', { href: `#/repository/${enc(name)}/image/${enc(digest)}`, title: digest }, h('code', {}, shortDigest(digest))),
        copyButton(digest, 'Copy digest')),
      h('td', { 'data-label': 'Last pulled' }, when(img.lastRecordedPullTime)),
      h('td', { 'data-label': 'Scan status' }, scanCell(img)),
      h('td', { 'data-label': 'Storage class' }, img.imageStatus === 'ARCHIVED' ? 'Archive' : 'Standard'));
    return tr;
  }

  async function expand(tr, toggle, img) {
    if (toggle.getAttribute('aria-expanded') === 'true') {
      let n = tr.nextSibling;
      while (n && n.classList.contains('child')) { const x = n.nextSibling; n.remove(); n = x; }
      toggle.setAttribute('aria-expanded', 'false');
      toggle.textContent = '▸';
      return;
    }
    try {
      const got = await api.ecr('BatchGetImage', {
        repositoryName: name, imageIds: [{ imageDigest: img.imageDigest }], acceptedMediaTypes: ALL_TYPES,
      });
      const manifest = JSON.parse(got.images[0].imageManifest);
      const ids = (manifest.manifests || []).map((m) => ({ imageDigest: m.digest }));
      const children = ids.length ? (await api.ecr('DescribeImages', { repositoryName: name, imageIds: ids })).imageDetails || [] : [];
      let at = tr;
      for (const c of children) {
        const ctr = row(c, true);
        at.after(ctr);
        at = ctr;
      }
      toggle.setAttribute('aria-expanded', 'true');
      toggle.textContent = '▾';
    } catch (e) {
      err.show(e);
    }
  }

  let uriBase = '';
  const repo = (await api.ecr('DescribeRepositories', { repositoryNames: [name] })).repositories[0];
  uriBase = repo.repositoryUri;

  async function load() {
    let out;
    try {
      // newest push first across every page, as ECR's console lists them (a berth extension of
      // DescribeImages that only a console session may ask for)
      out = await api.ecr('DescribeImages', { repositoryName: name, maxResults: PAGE_SIZE, nextToken: tokens[index] },
        { 'X-Berth-Image-Order': 'pushed-desc' });
    } catch (e) {
      err.show(e);
      return;
    }
    tokens[index + 1] = out.nextToken;
    // the images of an index on this page are shown under it, not beside it
    const all = out.imageDetails || [];
    const indexes = all.filter((i) => INDEX_TYPES.includes(i.imageManifestMediaType));
    const nested = new Set();
    if (indexes.length) {
      try {
        const got = await api.ecr('BatchGetImage', {
          repositoryName: name, imageIds: indexes.map((i) => ({ imageDigest: i.imageDigest })), acceptedMediaTypes: ALL_TYPES,
        });
        for (const im of got.images || []) {
          for (const m of JSON.parse(im.imageManifest).manifests || []) nested.add(m.digest);
        }
      } catch (e) {
        err.show(e);
      }
    }
    const imgs = all.filter((i) => !nested.has(i.imageDigest));
    const cols = ['', 'Image tags', 'Artifact type', 'Pushed at', 'Size (MB)', 'Image URI', 'Digest', 'Last pulled', 'Scan status', 'Storage class'];
    put(holder, 
      h('div', { class: 'table-wrap' }, h('table', { id: 'images' },
        h('caption', { class: 'sr-only' }, 'Images'),
        h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, imgs.length ? imgs.map((i) => row(i, false)) : h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, 'No images'))))),
      pager({ page: index + 1, hasPrev: index > 0, hasNext: !!out.nextToken,
        onPrev: () => { err.clear(); index--; load(); }, onNext: () => { err.clear(); index++; load(); } }));
  }

  del.addEventListener('click', async () => {
    const items = [...chosen.values()];
    const ok = await dialog({
      title: `Delete ${items.length} image${items.length > 1 ? 's' : ''}`,
      danger: true, confirmLabel: 'Delete', typeToConfirm: 'delete',
      body: h('div', {}, h('p', {}, 'These images are deleted, with every tag they have:'),
        h('ul', { class: 'list' }, items.map((i) => h('li', {}, (i.imageTags || []).join(', ') || '<untagged>', ' ', h('code', {}, shortDigest(i.imageDigest)))))),
    });
    if (!ok) return;
    err.clear();
    try {
      const out = await api.ecr('BatchDeleteImage', { repositoryName: name, imageIds: items.map((i) => ({ imageDigest: i.imageDigest })) });
      for (const id of out.imageIds || []) chosen.delete(id.imageDigest);
      if ((out.failures || []).length) {
        const f = out.failures[0];
        err.show({ type: f.failureCode, message: f.failureReason });
      } else {
        toast(`Deleted ${items.length} image(s)`);
      }
    } catch (e) {
      err.show(e);
    }
    sync();
    await load();
  });

  page(name, repoTabs(name, 'Images'),
    h('div', { class: 'toolbar' }, h('h2', {}, 'Images'), h('span', { class: 'grow' }), count,
      h('button', { type: 'button', onclick: () => { err.clear(); load(); } }, 'Refresh'), del),
    err, holder);
  await load();
}

export async function detail(name, digest) {
  const err = errorBox();
  const info = (await api.ecr('DescribeImages', { repositoryName: name, imageIds: [{ imageDigest: digest }] })).imageDetails[0];
  const got = await api.ecr('BatchGetImage', { repositoryName: name, imageIds: [{ imageDigest: digest }], acceptedMediaTypes: ALL_TYPES });
  const raw = got.images[0]?.imageManifest || '{}';
  const manifest = JSON.parse(raw);
  const layers = manifest.layers || [];
  const configBox = h('pre', { class: 'code', id: 'image-config' }, manifest.config ? 'Loading…' : 'This manifest has no config.');
  const findingsBox = h('div', { id: 'findings' });

  if (manifest.config) {
    (async () => {
      try {
        const t = await api.layerText({ repositoryName: name, layerDigest: manifest.config.digest });
        try { configBox.textContent = JSON.stringify(JSON.parse(t), null, 2); } catch (e) { configBox.textContent = t; }
      } catch (e) {
        configBox.textContent = `The config could not be read: ${e.message}`;
      }
    })();
  }

  const sevFilter = h('select', { id: 'finding-severity', 'aria-label': 'Severity' },
    h('option', { value: '' }, 'All severities'), SEVERITIES.map((s) => h('option', { value: s }, s)));
  const sortBy = h('select', { id: 'finding-sort', 'aria-label': 'Sort by' },
    h('option', { value: 'severity' }, 'Sort by severity'), h('option', { value: 'name' }, 'Sort by name'));
  let findings = [];
  const drawFindings = () => {
    const rank = (s) => { const i = SEVERITIES.indexOf(s); return i < 0 ? 99 : i; };
    const shown = findings.filter((f) => !sevFilter.value || f.severity === sevFilter.value)
      .sort((a, b) => sortBy.value === 'name' ? a.name.localeCompare(b.name) : rank(a.severity) - rank(b.severity) || a.name.localeCompare(b.name));
    put(findingsBox, table([
      { label: 'Name', cell: (f) => f.uri ? h('a', { href: f.uri, rel: 'noopener noreferrer', target: '_blank' }, f.name) : f.name },
      { label: 'Severity', cell: (f) => h('span', { class: `sev sev-${(f.severity || '').toLowerCase()}` }, f.severity) },
      { label: 'Package', cell: (f) => {
        const a = Object.fromEntries((f.attributes || []).map((x) => [x.key, x.value]));
        return `${a.package_name || ''} ${a.package_version || ''}`.trim();
      } },
      { label: 'Description', cell: (f) => f.description || '' },
    ], shown, { empty: 'No findings', caption: 'Findings' }));
  };
  sevFilter.addEventListener('change', drawFindings);
  sortBy.addEventListener('change', drawFindings);
  let scanNote = '';
  // findings come in the API's pages of up to 1000; more are fetched on demand
  let findingsToken;
  const moreFindings = h('button', {
    type: 'button', id: 'findings-more', hidden: true,
    onclick: async () => {
      err.clear();
      try {
        const out = await api.ecr('DescribeImageScanFindings', { repositoryName: name, imageId: { imageDigest: digest }, maxResults: 1000, nextToken: findingsToken });
        findings = findings.concat(out.imageScanFindings?.findings || []);
        findingsToken = out.nextToken;
        moreFindings.hidden = !findingsToken;
        drawFindings();
      } catch (e) {
        err.show(e);
      }
    },
  }, 'More findings');
  try {
    const out = await api.ecr('DescribeImageScanFindings', { repositoryName: name, imageId: { imageDigest: digest }, maxResults: 1000 });
    findings = out.imageScanFindings?.findings || [];
    findingsToken = out.nextToken;
    moreFindings.hidden = !findingsToken;
    scanNote = out.imageScanStatus?.status || '';
  } catch (e) {
    scanNote = e.type === 'ScanNotFoundException' ? 'This image has not been scanned.' : e.message;
  }
  drawFindings();

  page(`${name}@${shortDigest(digest)}`, repoTabs(name, 'Images'), err,
    h('dl', { class: 'facts' },
      h('dt', {}, 'Digest'), h('dd', {}, h('code', {}, digest), copyButton(digest, 'Copy digest')),
      h('dt', {}, 'Tags'), h('dd', {}, (info.imageTags || []).join(', ') || '<untagged>'),
      h('dt', {}, 'Media type'), h('dd', {}, info.imageManifestMediaType || ''),
      h('dt', {}, 'Size (MB)'), h('dd', {}, mib(info.imageSizeInBytes)),
      h('dt', {}, 'Pushed at'), h('dd', {}, when(info.imagePushedAt)),
      h('dt', {}, 'Last pulled'), h('dd', {}, when(info.lastRecordedPullTime))),
    h('h2', {}, 'Layers'),
    table([
      { label: '#', cell: (l) => String(layers.indexOf(l) + 1) },
      { label: 'Digest', cell: (l) => h('span', { class: 'nowrap' }, h('code', { title: l.digest }, shortDigest(l.digest)), copyButton(l.digest, 'Copy digest')) },
      { label: 'Media type', cell: (l) => l.mediaType },
      { label: 'Size (MB)', class: 'num', cell: (l) => mib(l.size) },
    ], layers, { empty: 'No layers', caption: 'Layers' }),
    h('h2', {}, 'Vulnerabilities'),
    h('div', { class: 'toolbar' }, h('span', { class: 'muted', id: 'scan-note' }, scanNote), h('span', { class: 'grow' }),
      h('button', {
        type: 'button', id: 'scan-start',
        onclick: async () => {
          err.clear();
          try {
            const out = await api.ecr('StartImageScan', { repositoryName: name, imageId: { imageDigest: digest } });
            document.getElementById('scan-note').textContent = `Scan ${out.imageScanStatus?.status || 'started'}; reload to see its findings.`;
          } catch (e) {
            err.show(e);
          }
        },
      }, 'Scan')),
    h('div', { class: 'toolbar' }, sevFilter, sortBy),
    findingsBox,
    h('div', { class: 'actions' }, moreFindings),
    h('details', {}, h('summary', {}, 'Config'), configBox),
    h('details', {}, h('summary', {}, 'Manifest'), h('pre', { class: 'code', id: 'image-manifest' }, JSON.stringify(manifest, null, 2))));
}
