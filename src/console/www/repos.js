// Repositories: the list (server-side pages of DescribeRepositories), create,
// delete, push commands, and a repository's Permissions, Lifecycle Policy
// and Tags tabs.
import * as api from './api.js';
import { h, put, page, when, errorBox, copyButton, dialog, table, pager, tabs, field, toast, enc } from './ui.js';

const PAGE_SIZE = 20;
const PREVIEW_PAGE = 20;

export function repoTabs(name, active) {
  const base = `#/repository/${enc(name)}`;
  return h('div', { class: 'repo-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/repositories' }, 'Repositories'), ' / ', name),
    h('div', { class: 'row' },
      tabs([['Images', `${base}/images`], ['Permissions', `${base}/permissions`],
        ['Lifecycle Policy', `${base}/lifecycle`], ['Tags', `${base}/tags`]], active),
      h('button', { type: 'button', id: 'push-commands', onclick: () => pushCommands(name) }, 'View push commands')));
}

export async function list() {
  const err = errorBox();
  const tokens = [undefined];
  let index = 0;
  const search = h('input', { type: 'search', id: 'repo-search', placeholder: 'Find repositories', 'aria-label': 'Find repositories (name contains)' });
  const holder = h('div', {});
  const del = h('button', { type: 'button', class: 'danger', disabled: true, id: 'repo-delete' }, 'Delete');
  let selected = null;
  let query = '';

  async function load() {
    err.clear();
    let out;
    try {
      // a search is DescribeRepositories' own pages, filtered on the server;
      // names are printable ASCII, so other text finds nothing
      out = /[^\x20-\x7e]/.test(query) ? { repositories: [] }
        : await api.ecr('DescribeRepositories', { maxResults: PAGE_SIZE, nextToken: tokens[index] },
          query ? { 'X-Berth-Repository-Filter': `contains:${query}` } : {});
    } catch (e) {
      err.show(e);
      return;
    }
    tokens[index + 1] = out.nextToken;
    selected = null;
    del.disabled = true;
    const rows = out.repositories || [];
    put(holder, 
      table([
        { label: '', class: 'pick', cell: (r) => h('input', { type: 'radio', name: 'repo', 'aria-label': `Select ${r.repositoryName}`, onchange: () => { selected = r; del.disabled = false; } }) },
        { label: 'Repository name', cell: (r) => h('a', { href: `#/repository/${enc(r.repositoryName)}/images` }, r.repositoryName) },
        { label: 'URI', class: 'uri', cell: (r) => h('span', { class: 'nowrap' }, h('code', {}, r.repositoryUri), copyButton(r.repositoryUri, 'Copy URI')) },
        { label: 'Created at', cell: (r) => when(r.createdAt) },
        { label: 'Tag immutability', cell: (r) => r.imageTagMutability === 'IMMUTABLE' ? 'Enabled' : 'Disabled' },
        { label: 'Scan on push', cell: (r) => r.imageScanningConfiguration?.scanOnPush ? 'Enabled' : 'Disabled' },
        { label: 'Encryption type', cell: (r) => r.encryptionConfiguration?.encryptionType || 'AES256' },
      ], rows, { empty: query ? 'No repository name contains this' : 'No repositories', caption: 'Repositories' }),
      pager({
        page: index + 1, hasPrev: index > 0, hasNext: !!out.nextToken,
        onPrev: () => { index--; load(); }, onNext: () => { index++; load(); },
      }));
  }

  del.addEventListener('click', async () => {
    if (selected) await deleteRepository(selected.repositoryName, load);
  });
  // a new search starts again from its first page
  const restart = () => { query = search.value.trim(); index = 0; tokens.length = 1; load(); };
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') restart(); });
  // the clear button of the search box (Enter is handled above)
  search.addEventListener('search', () => { if (!search.value) restart(); });

  page('Private repositories',
    h('div', { class: 'toolbar' }, search,
      h('span', { class: 'grow' }),
      del,
      h('a', { class: 'button primary', href: '#/repositories/create', id: 'repo-create' }, 'Create repository')),
    err, holder);
  await load();
}

async function deleteRepository(name, reload) {
  const err = errorBox();
  const force = h('input', { type: 'checkbox', id: 'force' });
  const ok = await dialog({
    title: `Delete ${name}`,
    danger: true,
    confirmLabel: 'Delete',
    typeToConfirm: 'delete',
    body: h('div', {},
      h('p', {}, 'Delete the repository ', h('strong', {}, name), '?'),
      h('p', { class: 'alert warn' }, 'With force, every image in it is deleted too (as ', h('code', {}, 'aws ecr delete-repository --force'),
        '). Without it, a repository that still has images is not deleted.'),
      h('label', { class: 'check' }, force, ' Delete its images too (--force)')),
  });
  if (!ok) return;
  try {
    await api.ecr('DeleteRepository', { repositoryName: name, force: force.checked });
    toast(`Deleted ${name}`);
    await reload();
  } catch (e) {
    const main = document.getElementById('main');
    main.insertBefore(err, main.children[1]);
    err.show(e);
  }
}

export function create() {
  const err = errorBox();
  const name = h('input', { id: 'repo-name', required: true, maxlength: 256, autocomplete: 'off', spellcheck: 'false' });
  const immutable = h('input', { type: 'checkbox', id: 'repo-immutable' });
  const scan = h('input', { type: 'checkbox', id: 'repo-scan' });
  const form = h('form', {
    class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      try {
        await api.ecr('CreateRepository', {
          repositoryName: name.value.trim(),
          imageTagMutability: immutable.checked ? 'IMMUTABLE' : 'MUTABLE',
          imageScanningConfiguration: { scanOnPush: scan.checked },
        });
        toast(`Created ${name.value.trim()}`);
        location.hash = `#/repository/${enc(name.value.trim())}/images`;
      } catch (ex) {
        err.show(ex);
      }
    },
  },
  field('Repository name', name,
    'Lowercase letters, digits and . _ - separated, with namespaces: team-a/web-app. The API checks the name.'),
  h('fieldset', {}, h('legend', {}, 'Tag immutability'),
    h('label', { class: 'check' }, immutable, ' Immutable: a tag, once pushed, cannot be overwritten')),
  h('fieldset', {}, h('legend', {}, 'Image scan settings'),
    h('label', { class: 'check' }, scan, ' Scan on push')),
  h('p', { class: 'muted' }, 'Encryption: AES-256.'),
  err,
  h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/repositories' }, 'Cancel'),
    h('button', { type: 'submit', class: 'primary', id: 'repo-create-submit' }, 'Create repository')));
  page('Create repository', form);
  name.focus();
}

export async function pushCommands(name) {
  const s = api.current();
  const out = await api.ecr('DescribeRepositories', { repositoryNames: [name] });
  const uri = out.repositories[0].repositoryUri;
  const host = uri.slice(0, uri.indexOf('/'));
  const insecure = location.protocol === 'http:';
  const endpoint = location.origin;
  const login = (tool) => `aws ecr get-login-password --region ${s.region} --endpoint-url ${endpoint} | ${tool} login --username AWS --password-stdin${insecure && tool === 'podman' ? ' --tls-verify=false' : ''} ${host}`;
  const sets = {
    docker: [
      ['Retrieve an authentication token and authenticate your Docker client to your registry.', login('docker')],
      ['Build your Docker image. You can skip this step if your image is already built.', `docker build -t ${name} .`],
      ['Tag your image so you can push it to this repository.', `docker tag ${name}:latest ${uri}:latest`],
      ['Push this image to your repository.', `docker push ${uri}:latest`],
    ],
    podman: [
      ['Retrieve an authentication token and authenticate podman to your registry.', login('podman')],
      ['Build your image. You can skip this step if your image is already built.', `podman build -t ${name} .`],
      ['Tag your image so you can push it to this repository.', `podman tag ${name}:latest ${uri}:latest`],
      ['Push this image to your repository.', `podman push${insecure ? ' --tls-verify=false' : ''} ${uri}:latest`],
    ],
  };
  const panel = h('div', { class: 'push' });
  const show = (tool) => {
    put(panel, h('ol', {}, sets[tool].map(([what, cmd], i) => h('li', {},
      h('p', {}, what),
      h('div', { class: 'cmd' }, h('code', { class: `cmd-${tool}`, 'data-step': i + 1 }, cmd), copyButton(cmd, 'Copy command'))))));
    for (const b of chooser.querySelectorAll('button')) b.setAttribute('aria-pressed', b.dataset.tool === tool ? 'true' : 'false');
  };
  const chooser = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Client' },
    ['docker', 'podman'].map((t) => h('button', { type: 'button', 'data-tool': t, onclick: () => show(t) }, t)));
  show('docker');
  await dialog({
    title: `Push commands for ${name}`,
    confirmLabel: 'Close',
    wide: true,
    cancel: false,
    body: h('div', {},
      h('p', {}, 'Make sure the aws CLI has credentials for this account (', h('code', {}, 'aws configure'), ').'),
      chooser, panel,
      insecure ? h('p', { class: 'muted' }, 'This berth is served over plain HTTP: docker needs the host in its "insecure-registries".') : null),
  });
}

// The policy editor shared by the Permissions tab and the registry policy.
export function policyEditor({ load, save, remove, templates = [] }) {
  const err = errorBox();
  const text = h('textarea', { id: 'policy-text', rows: 18, spellcheck: 'false', 'aria-label': 'Policy JSON', class: 'code' });
  const status = h('p', { class: 'muted', id: 'policy-status' });
  const where = h('p', { class: 'muted', id: 'policy-where' });
  const markLine = (msg) => {
    const m = /line (\d+)/i.exec(msg || '');
    where.textContent = '';
    if (!m) return;
    const n = Number(m[1]);
    const lines = text.value.split('\n');
    if (n < 1 || n > lines.length) return;
    const start = lines.slice(0, n - 1).join('\n').length + (n > 1 ? 1 : 0);
    text.focus();
    text.setSelectionRange(start, start + lines[n - 1].length);
    where.textContent = `Line ${n}: ${lines[n - 1].trim()}`;
  };
  const saveBtn = h('button', {
    type: 'button', class: 'primary', id: 'policy-save',
    onclick: async () => {
      err.clear();
      where.textContent = '';
      try {
        await save(text.value);
        status.textContent = 'Saved.';
        toast('Policy saved');
      } catch (e) {
        err.show(e);
        markLine(e.message);
      }
    },
  }, 'Save');
  const removeBtn = remove ? h('button', {
    type: 'button', class: 'danger', id: 'policy-delete',
    onclick: async () => {
      if (!await dialog({ title: 'Delete policy', danger: true, confirmLabel: 'Delete', body: h('p', {}, 'Delete this policy?') })) return;
      err.clear();
      try {
        await remove();
        text.value = '';
        status.textContent = 'No policy.';
      } catch (e) {
        err.show(e);
      }
    },
  }, 'Delete policy') : null;
  const tpl = templates.length ? h('div', { class: 'toolbar' }, h('span', { class: 'muted' }, 'Add a statement:'),
    templates.map(([label, make]) => h('button', {
      type: 'button',
      onclick: async () => {
        const stmt = await make();
        if (!stmt) return;
        let doc;
        try {
          doc = text.value.trim() ? JSON.parse(text.value) : { Version: '2012-10-17', Statement: [] };
        } catch (e) {
          err.show({ message: 'The document is not valid JSON yet; fix it before adding a statement.' });
          return;
        }
        doc.Statement = [].concat(doc.Statement || [], stmt);
        text.value = JSON.stringify(doc, null, 2);
      },
    }, label))) : null;
  const node = h('div', { class: 'card' }, tpl, text, where, err, status, h('div', { class: 'actions' }, removeBtn, saveBtn));
  (async () => {
    try {
      const t = await load();
      text.value = t ? JSON.stringify(JSON.parse(t), null, 2) : '';
      status.textContent = t ? '' : 'No policy.';
    } catch (e) {
      err.show(e);
    }
  })();
  return node;
}

function askAccount() {
  return new Promise((resolve) => {
    const input = h('input', { id: 'tpl-account', pattern: '[0-9]{12}', inputmode: 'numeric' });
    dialog({ title: 'Pull from another account', confirmLabel: 'Add', body: field('Account ID (12 digits)', input) })
      .then((ok) => resolve(ok && /^[0-9]{12}$/.test(input.value) ? input.value : null));
  });
}

function askUser() {
  return new Promise((resolve) => {
    const input = h('input', { id: 'tpl-user' });
    dialog({ title: 'Push for a user', confirmLabel: 'Add', body: field('IAM user name', input) })
      .then((ok) => resolve(ok && input.value.trim() ? input.value.trim() : null));
  });
}

export async function permissions(name) {
  const s = api.current();
  const editor = policyEditor({
    load: async () => {
      try {
        return (await api.ecr('GetRepositoryPolicy', { repositoryName: name })).policyText;
      } catch (e) {
        if (e.type === 'RepositoryPolicyNotFoundException') return '';
        throw e;
      }
    },
    save: (t) => api.ecr('SetRepositoryPolicy', { repositoryName: name, policyText: t }),
    remove: () => api.ecr('DeleteRepositoryPolicy', { repositoryName: name }),
    templates: [
      ['Pull from another account', async () => {
        const acct = await askAccount();
        return acct && {
          Sid: `AllowPull${acct}`, Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:root` },
          Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
        };
      }],
      ['Push for a user', async () => {
        const user = await askUser();
        return user && {
          Sid: `AllowPush${user.replace(/[^A-Za-z0-9]/g, '')}`, Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${s.account}:user/${user}` },
          Action: ['ecr:BatchGetImage', 'ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload',
            'ecr:GetDownloadUrlForLayer', 'ecr:InitiateLayerUpload', 'ecr:PutImage', 'ecr:UploadLayerPart'],
        };
      }],
    ],
  });
  page(name, repoTabs(name, 'Permissions'), h('h2', {}, 'Repository policy'), editor);
}

function ruleSummary(r) {
  const sel = r.selection || {};
  const tags = sel.tagStatus === 'tagged'
    ? ` with tag ${sel.tagPrefixList ? 'prefixes ' + sel.tagPrefixList.join(', ') : 'patterns ' + (sel.tagPatternList || []).join(', ')}`
    : '';
  const count = sel.countType === 'imageCountMoreThan'
    ? `more than ${sel.countNumber} images`
    : `older than ${sel.countNumber} ${sel.countUnit || 'days'} (${sel.countType})`;
  return `${sel.tagStatus} images${tags}: ${count}`;
}

export async function lifecycle(name) {
  const err = errorBox();
  let rules = [];
  let evaluated = null;
  const rulesHolder = h('div', { id: 'rules' });
  const previewHolder = h('div', { id: 'preview' });
  try {
    const out = await api.ecr('GetLifecyclePolicy', { repositoryName: name });
    rules = JSON.parse(out.lifecyclePolicyText).rules || [];
    evaluated = out.lastEvaluatedAt;
  } catch (e) {
    if (e.type !== 'LifecyclePolicyNotFoundException') err.show(e);
  }
  const policyText = () => JSON.stringify({ rules });
  const save = async () => {
    err.clear();
    try {
      if (rules.length) await api.ecr('PutLifecyclePolicy', { repositoryName: name, lifecyclePolicyText: policyText() });
      else await api.ecr('DeleteLifecyclePolicy', { repositoryName: name });
      toast('Lifecycle policy saved');
      return true;
    } catch (e) {
      err.show(e);
      return false;
    }
  };
  const draw = () => put(rulesHolder, table([
    { label: 'Priority', cell: (r) => String(r.rulePriority) },
    { label: 'Description', cell: (r) => r.description || '' },
    { label: 'Selection', cell: ruleSummary },
    { label: 'Action', cell: (r) => r.action?.type || 'expire' },
    { label: '', cell: (r) => h('span', { class: 'btns' },
      h('button', { type: 'button', onclick: () => edit(r) }, 'Edit'),
      h('button', {
        type: 'button', class: 'danger',
        onclick: async () => {
          const before = rules;
          rules = rules.filter((x) => x !== r);
          if (await save()) draw(); else rules = before;
        },
      }, 'Remove')) },
  ], rules, { empty: 'No rules', caption: 'Lifecycle rules' }));

  async function edit(rule) {
    const sel = rule?.selection || {};
    const priority = h('input', { type: 'number', min: 1, id: 'rule-priority', value: rule?.rulePriority ?? (Math.max(0, ...rules.map((r) => r.rulePriority)) + 1) });
    const desc = h('input', { id: 'rule-description', value: rule?.description || '' });
    const status = h('select', { id: 'rule-tag-status' }, ['any', 'tagged', 'untagged'].map((v) => h('option', { value: v, selected: sel.tagStatus === v }, v)));
    const prefixes = h('input', { id: 'rule-prefixes', value: (sel.tagPrefixList || []).join(','), placeholder: 'prod,release' });
    const countType = h('select', { id: 'rule-count-type' },
      [['imageCountMoreThan', 'Image count more than'], ['sinceImagePushed', 'Since image pushed']].map(([v, l]) => h('option', { value: v, selected: sel.countType === v }, l)));
    const countNumber = h('input', { type: 'number', min: 1, id: 'rule-count', value: sel.countNumber ?? 1 });
    const ok = await dialog({
      title: rule ? `Edit rule ${rule.rulePriority}` : 'Add rule',
      confirmLabel: 'Save rule',
      body: h('div', {}, field('Rule priority', priority), field('Description', desc), field('Image status', status),
        field('Tag prefixes (tagged only, comma separated)', prefixes), field('Match criteria', countType),
        field('Count (images, or days since pushed)', countNumber)),
    });
    if (!ok) return;
    const selection = { tagStatus: status.value, countType: countType.value, countNumber: Number(countNumber.value) };
    if (countType.value === 'sinceImagePushed') selection.countUnit = 'days';
    if (status.value === 'tagged') selection.tagPrefixList = prefixes.value.split(',').map((x) => x.trim()).filter(Boolean);
    const next = { rulePriority: Number(priority.value), description: desc.value || undefined, selection, action: { type: 'expire' } };
    const before = rules;
    rules = rules.filter((x) => x !== rule).concat(next).sort((a, b) => a.rulePriority - b.rulePriority);
    if (await save()) draw(); else rules = before;
  }

  // the preview's results in server-side pages (GetLifecyclePolicyPreview's own)
  async function preview() {
    err.clear();
    put(previewHolder, h('p', { class: 'muted' }, 'Testing rules…'));
    try {
      await api.ecr('StartLifecyclePolicyPreview', { repositoryName: name, lifecyclePolicyText: policyText() });
      let out;
      for (let i = 0; i < 60; i++) {
        out = await api.ecr('GetLifecyclePolicyPreview', { repositoryName: name, maxResults: PREVIEW_PAGE });
        if (out.status !== 'IN_PROGRESS') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const tokens = [undefined, out.nextToken];
      let index = 0;
      const heading = h('h3', {}, `Preview: ${out.status}, ${out.summary?.expiringImageTotalCount ?? (out.previewResults || []).length} image(s) would expire`);
      const body = h('div', {});
      const show = (o) => put(body,
        table([
          { label: 'Image tags', cell: (r) => (r.imageTags || []).join(', ') || h('span', { class: 'muted' }, 'untagged') },
          { label: 'Digest', cell: (r) => h('code', { class: 'digest', title: r.imageDigest }, r.imageDigest.slice(0, 19) + '…') },
          { label: 'Pushed at', cell: (r) => when(r.imagePushedAt) },
          { label: 'Action', cell: (r) => r.action?.type || '' },
          { label: 'Rule', cell: (r) => String(r.appliedRulePriority) },
        ], o.previewResults || [], { empty: 'No image would be affected', caption: 'Preview results' }),
        tokens[1] ? pager({
          page: index + 1, hasPrev: index > 0, hasNext: !!tokens[index + 1],
          onPrev: () => turn(-1), onNext: () => turn(1),
        }) : null);
      const turn = async (step) => {
        try {
          const o = await api.ecr('GetLifecyclePolicyPreview', { repositoryName: name, maxResults: PREVIEW_PAGE, nextToken: tokens[index + step] });
          index += step;
          tokens[index + 1] = o.nextToken;
          show(o);
        } catch (e) {
          err.show(e);
        }
      };
      show(out);
      put(previewHolder, heading, body);
    } catch (e) {
      put(previewHolder);
      err.show(e);
    }
  }

  draw();
  page(name, repoTabs(name, 'Lifecycle Policy'),
    h('div', { class: 'toolbar' }, h('h2', {}, 'Lifecycle rules'), h('span', { class: 'grow' }),
      h('button', { type: 'button', id: 'rule-add', onclick: () => edit(null) }, 'Add rule'),
      h('button', { type: 'button', id: 'rules-test', class: 'primary', onclick: preview }, 'Test rules')),
    err, rulesHolder, previewHolder,
    h('h2', {}, 'Events history'),
    h('p', {}, 'Last evaluated: ', when(evaluated)),
    eventsHistory(name));
}

// What lifecycle runs did to this repository: CloudTrail's
// PolicyExecutionEvent records (LookupEvents by the repository's ARN, which
// names those records and nothing else), one row per image.
function eventsHistory(name) {
  const err = errorBox();
  const holder = h('div', { id: 'lifecycle-events' }, h('p', { class: 'muted' }, 'Loading…'));
  const rows = [];
  let token;
  let arn;
  const more = h('button', { type: 'button', id: 'lifecycle-events-more', hidden: true, onclick: () => load() }, 'Older events');
  const ruleText = (r, prio) => {
    if (!r) return `Rule ${prio}`;
    const sel = r.lifecycleEventSelection || {};
    const unit = sel.countUnit ? ` ${sel.countUnit}` : '';
    return `${prio}${r.description ? ': ' + r.description : ''} (${sel.tagStatus || ''}, ${sel.countType || ''} ${sel.countNumber ?? ''}${unit})`;
  };
  async function load() {
    err.clear();
    more.disabled = true;
    try {
      if (!arn) arn = (await api.ecr('DescribeRepositories', { repositoryNames: [name] })).repositories[0].repositoryArn;
      const out = await api.cloudtrail('LookupEvents', {
        LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: arn }], MaxResults: 10, NextToken: token,
      });
      for (const e of out.Events || []) {
        if (e.EventName !== 'PolicyExecutionEvent') continue;
        const d = JSON.parse(e.CloudTrailEvent).serviceEventDetails || {};
        const rules = new Map((d.lifecycleEventPolicy?.lifecycleEventRules || []).map((r) => [r.rulePriority, r]));
        for (const a of d.lifecycleEventImageActions || []) {
          rows.push({ at: e.EventTime, image: a.lifecycleEventImage || {}, rule: ruleText(rules.get(a.rulePriority), a.rulePriority), action: a.action || 'expire' });
        }
      }
      token = out.NextToken;
    } catch (e) {
      put(holder);
      err.show(e);
      return;
    } finally {
      more.disabled = false;
    }
    more.hidden = !token;
    put(holder, table([
      { label: 'Event time', cell: (r) => when(r.at) },
      { label: 'Action', cell: (r) => (r.action === 'transition' ? 'Archived' : 'Expired') },
      { label: 'Image tags', cell: (r) => (r.image.tagList || []).join(', ') || h('span', { class: 'muted' }, 'untagged') },
      { label: 'Digest', cell: (r) => h('code', { class: 'digest', title: r.image.digest }, (r.image.digest || '').slice(0, 19) + '…') },
      { label: 'Pushed at', cell: (r) => when(r.image.pushedAt ? r.image.pushedAt / 1000 : null) },
      { label: 'Rule', cell: (r) => r.rule },
    ], rows, { empty: 'No lifecycle events yet', caption: 'Lifecycle events' }));
  }
  load();
  return h('div', {}, h('p', { class: 'muted' }, 'Images that lifecycle rules expired or archived, newest first, from the CloudTrail event history (',
    h('code', {}, 'PolicyExecutionEvent'), ').'), err, holder, h('div', { class: 'actions' }, more));
}

export async function tags(name) {
  const err = errorBox();
  const out = await api.ecr('DescribeRepositories', { repositoryNames: [name] });
  const arn = out.repositories[0].repositoryArn;
  const holder = h('div', {});
  const key = h('input', { id: 'tag-key', maxlength: 128 });
  const value = h('input', { id: 'tag-value', maxlength: 256 });
  async function load() {
    const t = (await api.ecr('ListTagsForResource', { resourceArn: arn })).tags || [];
    put(holder, table([
      { label: 'Key', cell: (x) => x.Key },
      { label: 'Value', cell: (x) => x.Value },
      { label: '', cell: (x) => h('button', {
        type: 'button', class: 'danger', 'aria-label': `Remove tag ${x.Key}`,
        onclick: async () => {
          err.clear();
          try {
            await api.ecr('UntagResource', { resourceArn: arn, tagKeys: [x.Key] });
            await load();
          } catch (e) { err.show(e); }
        },
      }, 'Remove') },
    ], t, { empty: 'No tags', caption: 'Tags' }));
  }
  const form = h('form', {
    class: 'toolbar',
    onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      try {
        await api.ecr('TagResource', { resourceArn: arn, tags: [{ Key: key.value, Value: value.value }] });
        key.value = value.value = '';
        await load();
      } catch (ex) { err.show(ex); }
    },
  }, field('Key', key), field('Value', value), h('button', { type: 'submit', class: 'primary' }, 'Add tag'));
  page(name, repoTabs(name, 'Tags'), h('h2', {}, 'Tags'), err, holder, form);
  await load();
}
