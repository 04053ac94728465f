// The console's entry point: the sign-in page, the header, and a router
// over location.hash that hands each route to its page module.
import * as api from './api.js';
import { h, put, page, errorBox, field, toast } from './ui.js';
import * as repos from './repos.js';
import * as images from './images.js';
import * as settings from './settings.js';
import * as iamPages from './iam.js';

const routes = [
  [/^\/repositories$/, () => repos.list()],
  [/^\/repositories\/create$/, () => repos.create()],
  [/^\/repository\/([^/]+)\/images$/, (m) => images.list(decodeURIComponent(m[1]))],
  [/^\/repository\/([^/]+)\/image\/([^/]+)$/, (m) => images.detail(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^\/repository\/([^/]+)\/permissions$/, (m) => repos.permissions(decodeURIComponent(m[1]))],
  [/^\/repository\/([^/]+)\/lifecycle$/, (m) => repos.lifecycle(decodeURIComponent(m[1]))],
  [/^\/repository\/([^/]+)\/tags$/, (m) => repos.tags(decodeURIComponent(m[1]))],
  [/^\/settings$/, () => settings.show()],
  [/^\/iam\/users$/, () => iamPages.users()],
  [/^\/iam\/user\/([^/]+)$/, (m) => iamPages.user(decodeURIComponent(m[1]))],
  [/^\/iam\/groups$/, () => iamPages.groups()],
  [/^\/iam\/group\/([^/]+)$/, (m) => iamPages.group(decodeURIComponent(m[1]))],
  [/^\/iam\/policies$/, () => iamPages.policies()],
  [/^\/iam\/policy\/(.+)$/, (m) => iamPages.policy(decodeURIComponent(m[1]))],
  [/^\/iam\/simulator$/, () => iamPages.simulator()],
  [/^\/iam\/account$/, () => iamPages.account()],
  [/^\/password$/, () => changePassword()],
];

function header() {
  const s = api.current();
  document.getElementById('nav').hidden = !s;
  const who = document.getElementById('who');
  if (!s) {
    put(who);
    return;
  }
  const name = s.root ? `root (${s.account})` : `${s.userName} @ ${s.account}`;
  put(who, 
    h('span', { class: 'principal', title: s.arn }, name),
    h('span', { class: 'region' }, s.region),
    s.root ? null : h('a', { href: '#/password' }, 'Password'),
    h('button', { type: 'button', id: 'signout', onclick: doSignOut }, 'Sign out'));
}

async function doSignOut() {
  try {
    await api.signOut();
  } catch (e) {
    toast(e.message);
  }
  header();
  location.hash = '#/signin';
}

function signIn() {
  const err = errorBox();
  const mode = { value: 'password' };
  const account = h('input', { name: 'account', autocomplete: 'organization', autocapitalize: 'none', spellcheck: 'false', required: true });
  const user = h('input', { name: 'user', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const akid = h('input', { name: 'accessKeyId', autocomplete: 'username', required: true, spellcheck: 'false' });
  const secret = h('input', { name: 'secretAccessKey', type: 'password', autocomplete: 'current-password', required: true });
  const pwFields = h('div', {}, field('Account ID (12 digits) or alias', account), field('IAM user name', user), field('Password', password));
  const keyFields = h('div', { hidden: true },
    field('Access key ID', akid, 'The account root signs in with its access key pair (printed by berth on its first start).'),
    field('Secret access key', secret));
  const choose = (m) => {
    mode.value = m;
    pwFields.hidden = m !== 'password';
    keyFields.hidden = m !== 'key';
    for (const el of pwFields.querySelectorAll('input')) el.disabled = m !== 'password';
    for (const el of keyFields.querySelectorAll('input')) el.disabled = m !== 'key';
  };
  const radio = (value, label, checked) => h('label', { class: 'radio' },
    h('input', { type: 'radio', name: 'mode', value, checked, onchange: () => choose(value) }), label);
  const submit = h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }, 'Sign in');
  const form = h('form', {
    class: 'card narrow', 'aria-label': 'Sign in',
    onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      submit.disabled = true;
      try {
        const body = mode.value === 'password'
          ? { account: account.value.trim(), user: user.value.trim(), password: password.value }
          : { accessKeyId: akid.value.trim(), secretAccessKey: secret.value.trim() };
        const s = await api.signIn(body);
        password.value = '';
        secret.value = '';
        header();
        location.hash = s.mustChangePassword ? '#/password' : '#/repositories';
      } catch (ex) {
        err.show(ex);
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('fieldset', {}, h('legend', {}, 'Sign in as'),
    radio('password', 'IAM user (password)', true), radio('key', 'Root or IAM user (access key pair)', false)),
  pwFields, keyFields, err, submit);
  choose('password');
  page('Sign in to berth', form);
  account.focus();
}

function changePassword() {
  const s = api.current();
  const err = errorBox();
  const oldPw = h('input', { type: 'password', autocomplete: 'current-password', required: true });
  const newPw = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { type: 'password', autocomplete: 'new-password', required: true });
  const form = h('form', {
    class: 'card narrow',
    onsubmit: async (e) => {
      e.preventDefault();
      err.clear();
      if (newPw.value !== again.value) {
        err.show({ message: 'The new passwords do not match.' });
        return;
      }
      try {
        await api.iam('ChangePassword', { OldPassword: oldPw.value, NewPassword: newPw.value });
        await api.loadSession();
        toast('Password changed');
        location.hash = '#/repositories';
      } catch (ex) {
        err.show(ex);
      }
    },
  },
  s && s.mustChangePassword ? h('p', { class: 'alert info' }, 'Your password must be changed before you continue.') : null,
  field('Current password', oldPw), field('New password', newPw), field('New password again', again), err,
  h('button', { type: 'submit', class: 'primary' }, 'Change password'));
  page('Change password', form);
}

async function route() {
  const path = location.hash.replace(/^#/, '') || '/repositories';
  if (!api.current() && path !== '/signin') {
    await api.loadSession();
    header();
  }
  if (!api.current()) {
    signIn();
    return;
  }
  if (path === '/signin') {
    location.hash = '#/repositories';
    return;
  }
  for (const a of document.querySelectorAll('#nav a')) {
    const section = a.getAttribute('href').split('/')[1];
    a.setAttribute('aria-current', path.split('/')[1] === section ||
      (section === 'repositories' && path.startsWith('/repository')) ? 'page' : 'false');
  }
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) {
      try {
        await fn(m);
      } catch (e) {
        page('Something went wrong', errorBox()).lastChild.show(e);
      }
      document.getElementById('main').focus({ preventScroll: true });
      return;
    }
  }
  page('Not found', h('p', {}, 'There is no such page. ', h('a', { href: '#/repositories' }, 'Repositories')));
}

window.addEventListener('hashchange', route);
window.addEventListener('berth-signed-out', () => { header(); signIn(); });
route();
