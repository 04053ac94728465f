// IAM: users (with access keys, console password, groups and policies),
// groups, managed policies with their versions, the policy simulator, and
// the account's alias and password policy, each a call of berth's IAM API.
import * as api from './api.js';
import { h, put, page, when, errorBox, dialog, table, tabs, field, toast, enc, pager } from './ui.js';

const { text, members, record } = api;
const PAGE_SIZE = 20;

function iamTabs(active) {
  return tabs([['Users', '#/iam/users'], ['Groups', '#/iam/groups'], ['Policies', '#/iam/policies'],
    ['Policy simulator', '#/iam/simulator'], ['Account settings', '#/iam/account']], active);
}

// A list page over an IAM List* operation with Marker pagination.
async function pagedList({ action, params = {}, listName, columns, holder, err }) {
  const markers = [undefined];
  let index = 0;
  async function load() {
    err.clear();
    try {
      const res = await api.iam(action, { ...params, MaxItems: PAGE_SIZE, Marker: markers[index] });
      const rows = members(res, listName).map(record);
      markers[index + 1] = text(res, 'IsTruncated') === 'true' ? text(res, 'Marker') : undefined;
      put(holder, table(columns, rows, { caption: listName }),
        pager({ page: index + 1, hasPrev: index > 0, hasNext: !!markers[index + 1],
          onPrev: () => { index--; load(); }, onNext: () => { index++; load(); } }));
    } catch (e) {
      err.show(e);
    }
  }
  await load();
  return load;
}

// The Users and Groups pages: a form that creates one, and the paged list.
async function entityList({ kind, key, tab, create, list }) {
  const err = errorBox();
  const holder = h('div', {});
  const name = h('input', { id: `new-${kind}`, autocomplete: 'off' });
  let reload = async () => {};
  const form = h('form', {
    class: 'toolbar',
    onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      try {
        await api.iam(create, { [key]: name.value.trim() });
        toast(`Created ${name.value.trim()}`);
        name.value = '';
        await reload();
      } catch (ex) { err.show(ex); }
    },
  }, field(`New ${kind} name`, name), h('button', { type: 'submit', class: 'primary' }, `Create ${kind}`));
  page('IAM', iamTabs(tab), form, err, holder);
  reload = await pagedList({
    action: list, listName: tab, holder, err,
    columns: [
      { label: `${tab.slice(0, -1)} name`, cell: (x) => h('a', { href: `#/iam/${kind}/${enc(x[key])}` }, x[key]) },
      { label: 'ARN', cell: (x) => h('code', {}, x.Arn) },
      { label: 'Created', cell: (x) => when(x.CreateDate) },
    ],
  });
}

export function users() {
  return entityList({ kind: 'user', key: 'UserName', tab: 'Users', create: 'CreateUser', list: 'ListUsers' });
}

async function policyPicker() {
  const res = await api.iam('ListPolicies', { Scope: 'All', MaxItems: 1000 });
  return h('select', { id: 'attach-policy', 'aria-label': 'Policy to attach' },
    members(res, 'Policies').map(record).map((p) => h('option', { value: p.Arn }, p.PolicyName)));
}

export async function user(name) {
  const err = errorBox();
  const keysBox = h('div', {});
  const polBox = h('div', {});
  const groupsBox = h('div', {});
  const loginBox = h('div', {});

  async function keys() {
    const res = await api.iam('ListAccessKeys', { UserName: name });
    put(keysBox, table([
      { label: 'Access key ID', cell: (k) => h('code', {}, k.AccessKeyId) },
      { label: 'Status', cell: (k) => k.Status },
      { label: 'Created', cell: (k) => when(k.CreateDate) },
      { label: '', cell: (k) => h('span', { class: 'btns' },
        h('button', { type: 'button', onclick: () => act('UpdateAccessKey', { UserName: name, AccessKeyId: k.AccessKeyId, Status: k.Status === 'Active' ? 'Inactive' : 'Active' }, keys) },
          k.Status === 'Active' ? 'Deactivate' : 'Activate'),
        h('button', { type: 'button', class: 'danger', onclick: async () => {
          if (await dialog({ title: 'Delete access key', danger: true, confirmLabel: 'Delete', body: h('p', {}, `Delete ${k.AccessKeyId}? Anything using it stops working.`) }))
            await act('DeleteAccessKey', { UserName: name, AccessKeyId: k.AccessKeyId }, keys);
        } }, 'Delete')) },
    ], members(res, 'AccessKeyMetadata').map(record), { empty: 'No access keys', caption: 'Access keys' }),
    h('button', { type: 'button', id: 'key-create', onclick: async () => {
      err.clear();
      try {
        const out = await api.iam('CreateAccessKey', { UserName: name });
        const id = text(out, 'AccessKeyId'), secret = text(out, 'SecretAccessKey');
        await dialog({ title: 'Access key created', confirmLabel: 'Done', cancel: false, body: h('div', {},
          h('p', { class: 'alert warn' }, 'This is the only time the secret access key is shown. Keep it now.'),
          h('dl', { class: 'facts' }, h('dt', {}, 'Access key ID'), h('dd', {}, h('code', { id: 'new-akid' }, id)),
            h('dt', {}, 'Secret access key'), h('dd', {}, h('code', { id: 'new-secret' }, secret)))) });
        await keys();
      } catch (e) { err.show(e); }
    } }, 'Create access key'));
  }

  async function act(action, params, after) {
    err.clear();
    try {
      await api.iam(action, params);
      await after();
    } catch (e) { err.show(e); }
  }

  async function policies() {
    const res = await api.iam('ListAttachedUserPolicies', { UserName: name });
    const picker = await policyPicker().catch(() => h('select', { disabled: true }));
    put(polBox, table([
      { label: 'Policy', cell: (p) => h('a', { href: `#/iam/policy/${enc(p.PolicyArn)}` }, p.PolicyName) },
      { label: 'ARN', cell: (p) => h('code', {}, p.PolicyArn) },
      { label: '', cell: (p) => h('button', { type: 'button', class: 'danger', onclick: () => act('DetachUserPolicy', { UserName: name, PolicyArn: p.PolicyArn }, policies) }, 'Detach') },
    ], members(res, 'AttachedPolicies').map(record), { empty: 'No attached policies', caption: 'Attached policies' }),
    h('div', { class: 'toolbar' }, picker, h('button', { type: 'button', onclick: () => act('AttachUserPolicy', { UserName: name, PolicyArn: picker.value }, policies) }, 'Attach policy')));
  }

  async function groupsOf() {
    const res = await api.iam('ListGroupsForUser', { UserName: name });
    put(groupsBox, table([
      { label: 'Group', cell: (g) => h('a', { href: `#/iam/group/${enc(g.GroupName)}` }, g.GroupName) },
      { label: '', cell: (g) => h('button', { type: 'button', onclick: () => act('RemoveUserFromGroup', { UserName: name, GroupName: g.GroupName }, groupsOf) }, 'Remove from group') },
    ], members(res, 'Groups').map(record), { empty: 'In no group', caption: 'Groups' }));
  }

  async function login() {
    let profile = null;
    try {
      profile = (await api.iam('GetLoginProfile', { UserName: name })).getElementsByTagName('LoginProfile')[0];
    } catch (e) {
      if (e.type !== 'NoSuchEntity') throw e;
    }
    const pw = h('input', { type: 'password', id: 'login-password', autocomplete: 'new-password' });
    const reset = h('input', { type: 'checkbox', id: 'login-reset' });
    put(loginBox, 
      h('p', {}, profile ? ['Console password set ', when(text(profile, 'CreateDate')), text(profile, 'PasswordResetRequired') === 'true' ? ' (must be changed at next sign-in)' : ''] : 'No console password.'),
      h('div', { class: 'toolbar' }, field(profile ? 'New password' : 'Password', pw),
        h('label', { class: 'check' }, reset, ' Require a new password at next sign-in'),
        h('button', { type: 'button', id: 'login-save', onclick: () => act(profile ? 'UpdateLoginProfile' : 'CreateLoginProfile', { UserName: name, Password: pw.value, PasswordResetRequired: reset.checked }, login) }, profile ? 'Update password' : 'Enable console access'),
        profile ? h('button', { type: 'button', class: 'danger', onclick: () => act('DeleteLoginProfile', { UserName: name }, login) }, 'Disable console access') : null));
  }

  const del = h('button', { type: 'button', class: 'danger', onclick: async () => {
    if (!await dialog({ title: `Delete user ${name}`, danger: true, typeToConfirm: name, confirmLabel: 'Delete', body: h('p', {}, 'IAM refuses while the user has keys, a password, policies or groups.') })) return;
    await act('DeleteUser', { UserName: name }, async () => { location.hash = '#/iam/users'; });
  } }, 'Delete user');

  const u = record((await api.iam('GetUser', { UserName: name })).getElementsByTagName('User')[0]);
  page(`User ${name}`, iamTabs('Users'), err,
    h('dl', { class: 'facts' }, h('dt', {}, 'ARN'), h('dd', {}, h('code', {}, u.Arn)), h('dt', {}, 'Created'), h('dd', {}, when(u.CreateDate))),
    h('h2', {}, 'Permissions policies'), polBox,
    h('h2', {}, 'Groups'), groupsBox,
    h('h2', {}, 'Access keys'), keysBox,
    h('h2', {}, 'Console password'), loginBox,
    h('div', { class: 'actions' }, del));
  for (const f of [policies, groupsOf, keys, login]) await f().catch((e) => err.show(e));
}

export function groups() {
  return entityList({ kind: 'group', key: 'GroupName', tab: 'Groups', create: 'CreateGroup', list: 'ListGroups' });
}

export async function group(name) {
  const err = errorBox();
  const usersBox = h('div', {});
  const polBox = h('div', {});
  const act = async (action, params, after) => {
    err.clear();
    try { await api.iam(action, params); await after(); } catch (e) { err.show(e); }
  };
  async function load() {
    // the members in GetGroup's own pages (Marker)
    const who = h('input', { id: 'group-add-user', 'aria-label': 'User name' });
    const membersBox = h('div', {});
    put(usersBox, membersBox,
      h('div', { class: 'toolbar' }, who, h('button', { type: 'button', onclick: () => act('AddUserToGroup', { GroupName: name, UserName: who.value.trim() }, load) }, 'Add user')));
    await pagedList({
      action: 'GetGroup', params: { GroupName: name }, listName: 'Users', holder: membersBox, err,
      columns: [
        { label: 'User', cell: (u) => h('a', { href: `#/iam/user/${enc(u.UserName)}` }, u.UserName) },
        { label: '', cell: (u) => h('button', { type: 'button', onclick: () => act('RemoveUserFromGroup', { GroupName: name, UserName: u.UserName }, load) }, 'Remove') },
      ],
    });
    const res = await api.iam('ListAttachedGroupPolicies', { GroupName: name });
    const picker = await policyPicker();
    put(polBox, table([
      { label: 'Policy', cell: (p) => h('a', { href: `#/iam/policy/${enc(p.PolicyArn)}` }, p.PolicyName) },
      { label: '', cell: (p) => h('button', { type: 'button', class: 'danger', onclick: () => act('DetachGroupPolicy', { GroupName: name, PolicyArn: p.PolicyArn }, load) }, 'Detach') },
    ], members(res, 'AttachedPolicies').map(record), { empty: 'No attached policies', caption: 'Attached policies' }),
    h('div', { class: 'toolbar' }, picker, h('button', { type: 'button', onclick: () => act('AttachGroupPolicy', { GroupName: name, PolicyArn: picker.value }, load) }, 'Attach policy')));
  }
  page(`Group ${name}`, iamTabs('Groups'), err, h('h2', {}, 'Users'), usersBox, h('h2', {}, 'Permissions policies'), polBox,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', onclick: () => act('DeleteGroup', { GroupName: name }, async () => { location.hash = '#/iam/groups'; }) }, 'Delete group')));
  await load().catch((e) => err.show(e));
}

export async function policies() {
  const err = errorBox();
  const holder = h('div', {});
  const scope = h('select', { id: 'policy-scope', 'aria-label': 'Scope' },
    [['All', 'All policies'], ['AWS', 'AWS managed'], ['Local', 'Customer managed']].map(([v, l]) => h('option', { value: v }, l)));
  const name = h('input', { id: 'new-policy-name' });
  const doc = h('textarea', { id: 'new-policy-doc', rows: 8, class: 'code', spellcheck: 'false' });
  doc.value = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: '*' }] }, null, 2);
  const createErr = errorBox();
  const form = h('details', {}, h('summary', {}, 'Create policy'), h('form', {
    class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      createErr.clear();
      try {
        await api.iam('CreatePolicy', { PolicyName: name.value.trim(), PolicyDocument: doc.value });
        toast('Policy created');
        await load();
      } catch (ex) { createErr.show(ex); }
    },
  }, field('Policy name', name), field('Policy document', doc), createErr, h('button', { type: 'submit', class: 'primary' }, 'Create policy')));
  const load = () => pagedList({
    action: 'ListPolicies', params: { Scope: scope.value }, listName: 'Policies', holder, err,
    columns: [
      { label: 'Policy name', cell: (p) => h('a', { href: `#/iam/policy/${enc(p.Arn)}` }, p.PolicyName) },
      { label: 'Type', cell: (p) => p.Arn.startsWith('arn:aws:iam::aws:') ? 'AWS managed' : 'Customer managed' },
      { label: 'Attachments', cell: (p) => p.AttachmentCount },
      { label: 'Default version', cell: (p) => p.DefaultVersionId },
    ],
  });
  scope.addEventListener('change', load);
  page('IAM', iamTabs('Policies'), h('div', { class: 'toolbar' }, scope), form, err, holder);
  await load();
}

export async function policy(arn) {
  const err = errorBox();
  const p = record((await api.iam('GetPolicy', { PolicyArn: arn })).getElementsByTagName('Policy')[0]);
  const versions = members(await api.iam('ListPolicyVersions', { PolicyArn: arn }), 'Versions').map(record);
  const docBox = h('pre', { class: 'code', id: 'policy-document' });
  const show = async (v) => {
    const res = await api.iam('GetPolicyVersion', { PolicyArn: arn, VersionId: v });
    const raw = decodeURIComponent(text(res, 'Document'));
    try { docBox.textContent = JSON.stringify(JSON.parse(raw), null, 2); } catch (e) { docBox.textContent = raw; }
  };
  page(p.PolicyName, iamTabs('Policies'), err,
    h('dl', { class: 'facts' }, h('dt', {}, 'ARN'), h('dd', {}, h('code', {}, p.Arn)),
      h('dt', {}, 'Default version'), h('dd', {}, p.DefaultVersionId), h('dt', {}, 'Attachments'), h('dd', {}, p.AttachmentCount)),
    h('h2', {}, 'Versions'),
    table([
      { label: 'Version', cell: (v) => h('button', { type: 'button', class: 'link', onclick: () => show(v.VersionId).catch((e) => err.show(e)) }, v.VersionId) },
      { label: 'Default', cell: (v) => v.IsDefaultVersion === 'true' ? 'Yes' : '' },
      { label: 'Created', cell: (v) => when(v.CreateDate) },
    ], versions, { caption: 'Versions' }),
    h('h2', {}, 'Document'), docBox);
  await show(p.DefaultVersionId).catch((e) => err.show(e));
}

export async function simulator() {
  const err = errorBox();
  const s = api.current();
  const principal = h('input', { id: 'sim-principal', value: s.arn, spellcheck: 'false' });
  const actions = h('input', { id: 'sim-actions', value: 'ecr:BatchDeleteImage', spellcheck: 'false' });
  const resource = h('input', { id: 'sim-resource', value: `arn:aws:ecr:${s.region}:${s.account}:repository/*`, spellcheck: 'false' });
  const out = h('div', { id: 'sim-results' });
  const form = h('form', {
    class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      try {
        const res = await api.iam('SimulatePrincipalPolicy', {
          PolicySourceArn: principal.value.trim(),
          ActionNames: actions.value.split(',').map((a) => a.trim()).filter(Boolean),
          ResourceArns: [resource.value.trim()],
        });
        put(out, table([
          { label: 'Action', cell: (r) => text(r, 'EvalActionName') },
          { label: 'Resource', cell: (r) => text(r, 'EvalResourceName') },
          { label: 'Decision', cell: (r) => h('strong', { class: text(r, 'EvalDecision') === 'allowed' ? 'ok' : 'bad' }, text(r, 'EvalDecision')) },
          { label: 'Deciding statement', cell: (r) => members(r, 'MatchedStatements').map((m) => text(m, 'SourcePolicyId')).join(', ') || '-' },
        ], members(res, 'EvaluationResults'), { caption: 'Results' }));
      } catch (ex) { err.show(ex); }
    },
  }, field('Principal ARN (user or root)', principal), field('Actions (comma separated)', actions), field('Resource ARN', resource),
  h('button', { type: 'submit', class: 'primary' }, 'Run simulation'));
  page('IAM', iamTabs('Policy simulator'), form, err, out);
}

// The account alias (sign-in takes it in place of the id) and the account
// password policy that console passwords must follow.
export async function account() {
  const err = errorBox();
  const aliasBox = h('div', {});
  const policyBox = h('div', {});
  const act = async (fn, after) => {
    err.clear();
    try { await fn(); await after(); toast('Saved'); } catch (e) { err.show(e); }
  };

  async function alias() {
    const now = members(await api.iam('ListAccountAliases'), 'AccountAliases').map((m) => m.textContent)[0];
    const input = h('input', { id: 'account-alias', value: now || '', autocomplete: 'off', spellcheck: 'false' });
    put(aliasBox, h('div', { class: 'card' },
      h('p', {}, now ? ['Users sign in with ', h('code', {}, now), ' or ', h('code', {}, api.current().account), '.']
        : 'No alias: users sign in with the 12-digit account id.'),
      field('Account alias', input, 'Lower-case letters, digits and single dashes, 3 to 63 characters; unique in this berth.'),
      h('div', { class: 'actions' },
        now ? h('button', { type: 'button', class: 'danger', onclick: () => act(() => api.iam('DeleteAccountAlias', { AccountAlias: now }), alias) }, 'Delete alias') : null,
        h('button', { type: 'button', class: 'primary', id: 'alias-save', onclick: () => act(() => api.iam('CreateAccountAlias', { AccountAlias: input.value.trim() }), alias) }, 'Save alias'))));
  }

  async function policy() {
    let p = null;
    try {
      p = record((await api.iam('GetAccountPasswordPolicy')).getElementsByTagName('PasswordPolicy')[0]);
    } catch (e) {
      if (e.type !== 'NoSuchEntity') throw e;
    }
    const num = (id, v, min, max) => h('input', { id, type: 'number', min, max, value: v ?? '' });
    const check = (id, label, v) => h('label', { class: 'check' }, h('input', { type: 'checkbox', id, checked: v === 'true' }), ' ', label);
    const minLen = num('pp-min-length', p ? p.MinimumPasswordLength : 8, 6, 128);
    const maxAge = num('pp-max-age', p?.MaxPasswordAge, 1, 1095);
    const reuse = num('pp-reuse', p?.PasswordReusePrevention, 1, 24);
    const checks = [
      check('pp-upper', 'Require at least one uppercase letter (A-Z)', p?.RequireUppercaseCharacters),
      check('pp-lower', 'Require at least one lowercase letter (a-z)', p?.RequireLowercaseCharacters),
      check('pp-numbers', 'Require at least one number', p?.RequireNumbers),
      check('pp-symbols', "Require at least one symbol (! @ # $ % ^ & * ( ) _ + - = [ ] { } | ')", p?.RequireSymbols),
      check('pp-change', 'Allow users to change their own password', p?.AllowUsersToChangePassword),
      check('pp-hard', 'Expired passwords can only be reset by an administrator', p?.HardExpiry),
    ];
    const on = (id) => document.getElementById(id).checked;
    const save = () => {
      const params = {
        MinimumPasswordLength: minLen.value, RequireUppercaseCharacters: on('pp-upper'), RequireLowercaseCharacters: on('pp-lower'),
        RequireNumbers: on('pp-numbers'), RequireSymbols: on('pp-symbols'), AllowUsersToChangePassword: on('pp-change'),
      };
      if (maxAge.value) { params.MaxPasswordAge = maxAge.value; params.HardExpiry = on('pp-hard'); }
      if (reuse.value) params.PasswordReusePrevention = reuse.value;
      return api.iam('UpdateAccountPasswordPolicy', params);
    };
    put(policyBox, h('div', { class: 'card' },
      h('p', { class: 'muted', id: 'pp-status' }, p ? 'This account has a password policy.'
        : "No password policy: IAM's default applies (at least 8 characters, three of upper case, lower case, numbers and symbols)."),
      field('Minimum password length', minLen), checks,
      field('Passwords expire after (days; empty: never)', maxAge),
      field('Prevent reusing the last N passwords (empty: allowed)', reuse),
      h('div', { class: 'actions' },
        p ? h('button', { type: 'button', class: 'danger', onclick: () => act(() => api.iam('DeleteAccountPasswordPolicy'), policy) }, 'Delete policy') : null,
        h('button', { type: 'button', class: 'primary', id: 'policy-save', onclick: () => act(save, policy) }, 'Save policy'))));
  }

  page('IAM', iamTabs('Account settings'), err, h('h2', {}, 'Account alias'), aliasBox, h('h2', {}, 'Password policy'), policyBox);
  for (const f of [alias, policy]) await f().catch((e) => err.show(e));
}
