/** The labels of `wattscope_build_info` (both services' /metrics): which Wattscope and which Node.js runs. */
import { VERSION } from './version.js';

export function buildInfoLabels(component: 'collector' | 'api'): { component: string; version: string; nodejs: string } {
  return { component, version: VERSION, nodejs: process.version };
}
