/** What the tests need of Grafana: its dashboards' JSON, and its InfluxDB data source's expansion of macros and variables. */
export interface Variable {
  name: string;
  query?: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}
export interface Target {
  query: string;
  resultFormat: string;
}
export interface Dashboard {
  uid: string;
  templating: { list: Variable[] };
  annotations: { list?: Array<{ name: string; target: Target }> };
  panels: Array<{ title: string; type: string; targets: Target[]; fieldConfig?: { defaults?: { unit?: string } } }>;
}

/** What Grafana's InfluxDB data source does with `$name` in a query (regex-escaped for multi-value variables). */
const escapeRegex = (v: string) => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

export function expand(query: string, range: { from: number; to: number }, intervalMs: number, vars: Record<string, { variable: Variable; values: string[] | 'all' }>): string {
  let out = query.replace(/\$timeFilter/g, `time >= ${range.from}ms and time <= ${range.to}ms`).replace(/\$__interval/g, `${intervalMs}ms`);
  for (const [name, { variable, values }] of Object.entries(vars)) {
    let text: string;
    if (values === 'all') text = variable.allValue ?? `(${[].join('|')})`;
    else if (variable.multi || variable.includeAll) text = values.length === 1 ? escapeRegex(values[0] as string) : `(${values.map(escapeRegex).join('|')})`;
    else text = values[0] ?? '';
    out = out.replace(new RegExp(`\\$\\{${name}\\}|\\$${name}\\b`, 'g'), () => text);
  }
  return out;
}

