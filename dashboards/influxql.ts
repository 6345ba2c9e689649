/**
 * A small typed InfluxQL target for the Grafana Foundation SDK (which has no InfluxDB query
 * builder), and the text helpers the panels' queries are made of. Names come from
 * common/model.ts and are quoted by the storage layer's `ident()`; Grafana's macros
 * (`$timeFilter`, `$__interval`) and template variables stay as Grafana expects them.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import { ident, str } from '../common/storage/influxql.js';

export const DATASOURCE: common.DataSourceRef = { type: 'influxdb', uid: 'wattscope-influxdb' };

export type ResultFormat = 'time_series' | 'table';

export interface InfluxQLQuery {
  refId: string;
  datasource: common.DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: ResultFormat;
  alias?: string;
}

export class InfluxQLTarget implements cog.Builder<cog.Dataquery> {
  private readonly q: InfluxQLQuery;
  constructor(query: string) {
    this.q = { refId: 'A', datasource: DATASOURCE, query, rawQuery: true, resultFormat: 'time_series' };
  }
  refId(refId: string): this {
    this.q.refId = refId;
    return this;
  }
  alias(alias: string): this {
    this.q.alias = alias;
    return this;
  }
  format(format: ResultFormat): this {
    this.q.resultFormat = format;
    return this;
  }
  build(): cog.Dataquery {
    return { ...this.q, _implementsDataqueryVariant() {} } as cog.Dataquery;
  }
}

export const influxql = (query: string) => new InfluxQLTarget(query);

/** A quoted identifier: measurement, tag or field name. */
export const n = (name: string) => ident(name).text;
/** A quoted string literal of a fixed value. */
export const s = (value: string) => str(value).text;
/** A tag matched against a (multi-value) template variable: `"host" =~ /^$host$/`. */
export const matchVar = (tag: string, variable: string) => `${n(tag)} =~ /^$${variable}$/`;
