// Wattscope live page: no framework, no build step, nothing from outside this server. ES modules:
// common.js (state, helpers), live.js (live power), serving.js (serving engines' energy per token),
// runs.js (runs list, run detail), compare.js (models × platforms, overlay); this one wires them
// to the page.
import { $, setStatus, state } from './common.js';
import { loadCompare, renderOverlay } from './compare.js';
import { connect, loadHistory } from './live.js';
import { closeRun, loadFields, loadRuns } from './runs.js';
import { loadServing } from './serving.js';

function init() {
  $('#reference').addEventListener('change', (e) => {
    state.reference = e.target.value;
    void loadCompare();
  });
  $('#overlay-clear').addEventListener('click', () => {
    state.overlay.clear();
    for (const box of document.querySelectorAll('#runs td.pick input')) box.checked = false;
    void renderOverlay();
  });
  // loaded with the runs, and again whenever the completed runs change (loadRuns); a run older
  // than the runs list (200 newest) changes it rarely: once a minute catches that
  setInterval(() => void loadCompare(), 60_000);
  $('#host').addEventListener('change', (e) => {
    state.host = e.target.value;
    void loadHistory();
  });
  $('#detail-close').addEventListener('click', (e) => {
    // the detail sits in a row of the runs list: its close is not a click on that row
    e.stopPropagation();
    closeRun();
  });
  // serving engines' energy per token: quiet (hidden) on hosts that serve nothing
  const serving = () => loadServing().catch(() => undefined);
  void serving();
  setInterval(serving, 5000);
  loadHistory().then(connect, (e) => {
    setStatus(`cannot load history (${e.message})`, 'error');
    connect();
  });
  // the columns of the runs list and the comparison come from the run's definition
  loadFields().then(
    () => {
      void loadRuns();
      setInterval(() => void loadRuns(), 3000);
    },
    (e) => setStatus(`cannot load the run fields (${e.message})`, 'error'),
  );
}

init();
