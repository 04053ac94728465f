// The console's client of berth's own APIs: ECR and CloudTrail (AWS JSON
// 1.1) and IAM (AWS Query, XML replies) through /console/api/, with the session cookie
// and the CSRF token, which lives in this module's memory only.

const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.';
const CLOUDTRAIL_TARGET = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.';
let session = null;

export class ApiError extends Error {
  constructor(type, message, status) {
    super(message || type);
    this.type = type;
    this.status = status;
  }
}

export function current() {
  return session;
}

async function failure(res) {
  const text = await res.text();
  let type = 'Error', message = text;
  try {
    const doc = JSON.parse(text);
    type = doc.__type || type;
    message = doc.message ?? doc.Message ?? '';
  } catch (e) {
    const xml = new DOMParser().parseFromString(text, 'application/xml');
    const code = xml.querySelector('Error > Code');
    if (code) {
      type = code.textContent;
      message = xml.querySelector('Error > Message')?.textContent ?? '';
    }
  }
  return new ApiError(type, message, res.status);
}

export async function loadSession() {
  const res = await fetch('/console/api/session', { credentials: 'same-origin' });
  session = res.ok ? await res.json() : null;
  return session;
}

export async function signIn(form) {
  const res = await fetch('/console/api/signin', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(form),
  });
  if (!res.ok) throw await failure(res);
  session = await res.json();
  return session;
}

export async function signOut() {
  if (!session) return;
  const res = await fetch('/console/api/signout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-Berth-Csrf': session.csrf },
  });
  session = null;
  if (!res.ok && res.status !== 401) throw await failure(res);
}

function signedOut(err) {
  if (err.status === 401 && err.type === 'NotSignedIn') {
    session = null;
    window.dispatchEvent(new CustomEvent('berth-signed-out'));
  }
  return err;
}

async function post(route, target, input, extra) {
  const res = await fetch(`/console/api/${route}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      ...extra,
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': target,
      'X-Berth-Csrf': session ? session.csrf : '',
    },
    body: JSON.stringify(input),
  });
  if (!res.ok) throw signedOut(await failure(res));
  return res;
}

async function jsonCall(route, target, input, extra = {}) {
  return (await post(route, target, input, extra)).json();
}

// A layer's bytes as text (an image's config): GetDownloadUrlForLayer,
// answered by berth itself, since this page may fetch only from its own
// origin and the URL may be an object store's.
export async function layerText(input) {
  return (await post('layer', ECR_TARGET + 'GetDownloadUrlForLayer', input, {})).text();
}

// An ECR operation; resolves to its output object. headers: more request
// headers (X-Berth-Repository-Filter, the console's repository search).
export function ecr(op, input = {}, headers = {}) {
  return jsonCall('ecr', ECR_TARGET + op, input, headers);
}

// A CloudTrail operation (LookupEvents); resolves to its output object.
export function cloudtrail(op, input = {}) {
  return jsonCall('cloudtrail', CLOUDTRAIL_TARGET + op, input);
}

// Flattens {Key: value, List: [..], Tags: [{Key,Value}]} the way the Query
// protocol spells it: List.member.1, Tags.member.1.Key.
function flatten(out, prefix, v) {
  if (v === undefined || v === null) return;
  if (Array.isArray(v)) {
    v.forEach((item, i) => flatten(out, `${prefix}.member.${i + 1}`, item));
  } else if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) flatten(out, `${prefix}.${k}`, x);
  } else {
    out.push([prefix, String(v)]);
  }
}

// An IAM operation; resolves to the <ActionResult> element (or the document).
export async function iam(action, params = {}) {
  const pairs = [['Action', action], ['Version', '2010-05-08']];
  for (const [k, v] of Object.entries(params)) flatten(pairs, k, v);
  const body = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const res = await fetch('/console/api/iam', {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-Berth-Csrf': session ? session.csrf : '',
    },
    body,
  });
  if (!res.ok) throw signedOut(await failure(res));
  const xml = new DOMParser().parseFromString(await res.text(), 'application/xml');
  return xml.getElementsByTagName(action + 'Result')[0] || xml.documentElement;
}

// Helpers over the XML of IAM replies.
export function text(el, name) {
  const found = el && el.getElementsByTagName(name)[0];
  return found ? found.textContent : '';
}

export function members(el, listName) {
  const list = el && el.getElementsByTagName(listName)[0];
  return list ? Array.from(list.children).filter((c) => c.tagName === 'member') : [];
}

export function record(el) {
  const o = {};
  for (const c of el.children) o[c.tagName] = c.children.length ? c : c.textContent;
  return o;
}
