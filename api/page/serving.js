// Serving engines, last minute: per host that runs one (its collector scrapes an inference
// server), output tokens and requests per second and the energy of each (GET /api/workload:
// the host's energy from its power points over the tokens its engines generated).
import { $, cell, fmt } from './common.js';

const MINUTE_MS = 60_000;

async function servingHosts() {
  const res = await fetch('/api/hosts');
  if (!res.ok) return [];
  return (await res.json()).hosts.filter((h) => h.workload.length > 0).map((h) => h.host);
}

function row(values) {
  const tr = document.createElement('tr');
  for (const [v, digits] of values) tr.append(typeof v === 'string' ? Object.assign(document.createElement('td'), { textContent: v }) : cell(v, digits));
  return tr;
}

export async function loadServing() {
  const hosts = await servingHosts();
  const now = Date.now();
  const reports = await Promise.all(hosts.map(async (h) => (await fetch(`/api/workload?host=${encodeURIComponent(h)}&from=${now - MINUTE_MS}&to=${now}`)).json()));
  const body = $('#serving tbody');
  body.textContent = '';
  for (const r of reports) {
    // per second of the time its points cover (a server that started a moment ago is not averaged over the whole minute)
    const per = (v, coverage) => (v === null || !(coverage > 0) ? null : v / (r.duration_s * coverage));
    for (const s of r.served) {
      body.append(row([[r.host], [s.engine], [s.model_name], [per(s.output_tokens, s.coverage), 1], [per(s.requests, s.coverage), 2], [s.energy_per_output_token_j, 4], [s.energy_per_request_j, 3]]));
    }
    // a host with several engines: its whole energy over all their work
    if (r.served.length > 1) {
      const covered = Math.max(...r.served.map((s) => s.coverage));
      body.append(row([[r.host], ['all'], ['—'], [per(r.output_tokens, covered), 1], [per(r.requests, covered), 2], [r.energy_per_output_token_j, 4], [r.energy_per_request_j, 3]]));
    }
  }
  const section = $('#serving');
  section.hidden = body.children.length === 0;
  section.dataset.rows = String(body.children.length);
  $('#serving-energy').textContent = reports.length ? reports.map((r) => `${r.host}: ${fmt(r.energy_j === null ? null : r.energy_j / r.duration_s, 1)} W`).join(', ') : '';
}
