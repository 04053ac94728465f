// Registry settings: the registry policy, the scanning configuration and
// the account settings, each through its ECR operation.
import * as api from './api.js';
import { h, page, errorBox, field, toast } from './ui.js';
import { policyEditor } from './repos.js';

export async function show() {
  const editor = policyEditor({
    load: async () => {
      try {
        return (await api.ecr('GetRegistryPolicy', {})).policyText;
      } catch (e) {
        if (e.type === 'RegistryPolicyNotFoundException') return '';
        throw e;
      }
    },
    save: (t) => api.ecr('PutRegistryPolicy', { policyText: t }),
    remove: () => api.ecr('DeleteRegistryPolicy', {}),
  });

  const scanErr = errorBox();
  const scanType = h('select', { id: 'scan-type' }, ['BASIC', 'ENHANCED'].map((v) => h('option', { value: v }, v)));
  const scanOnPush = h('input', { type: 'checkbox', id: 'scan-on-push-all' });
  const filter = h('input', { id: 'scan-filter', value: '*', 'aria-describedby': 'scan-filter-hint' });
  try {
    const sc = await api.ecr('GetRegistryScanningConfiguration', {});
    const cfg = sc.scanningConfiguration || {};
    scanType.value = cfg.scanType || 'BASIC';
    const rule = (cfg.rules || [])[0];
    scanOnPush.checked = !!rule && rule.scanFrequency === 'SCAN_ON_PUSH';
    if (rule) filter.value = (rule.repositoryFilters || []).map((f) => f.filter).join(',') || '*';
  } catch (e) {
    scanErr.show(e);
  }
  const scanForm = h('form', {
    class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      scanErr.clear();
      const rules = scanOnPush.checked ? [{
        scanFrequency: 'SCAN_ON_PUSH',
        repositoryFilters: filter.value.split(',').map((f) => f.trim()).filter(Boolean).map((f) => ({ filter: f, filterType: 'WILDCARD' })),
      }] : [];
      try {
        await api.ecr('PutRegistryScanningConfiguration', { scanType: scanType.value, rules });
        toast('Scanning configuration saved');
      } catch (ex) {
        scanErr.show(ex);
      }
    },
  }, field('Scan type', scanType),
  h('label', { class: 'check' }, scanOnPush, ' Scan on push for repositories matching the filters'),
  field('Repository filters (comma separated, * wildcards)', filter),
  scanErr, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save scanning configuration')));

  const acctErr = errorBox();
  const settings = [['BASIC_SCAN_TYPE_VERSION', ['AWS_NATIVE', 'CLAIR']], ['REGISTRY_POLICY_SCOPE', ['V1', 'V2']]];
  const rows = [];
  for (const [name, values] of settings) {
    const sel = h('select', { id: `setting-${name}` }, values.map((v) => h('option', { value: v }, v)));
    try {
      sel.value = (await api.ecr('GetAccountSetting', { name })).value;
    } catch (e) {
      acctErr.show(e);
    }
    rows.push(h('div', { class: 'toolbar' }, field(name, sel), h('button', {
      type: 'button',
      onclick: async () => {
        acctErr.clear();
        try {
          await api.ecr('PutAccountSetting', { name, value: sel.value });
          toast(`${name} saved`);
        } catch (e) {
          acctErr.show(e);
        }
      },
    }, 'Save')));
  }

  page('Registry settings',
    h('h2', {}, 'Registry policy'), editor,
    h('h2', {}, 'Scanning configuration'), scanForm,
    h('h2', {}, 'Account settings'), h('div', { class: 'card' }, rows, acctErr),
    h('p', { class: 'muted' }, 'Replication, pull-through cache and creation templates appear here once berth has them.'));
}
