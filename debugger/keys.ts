/**
 * The debugger's keys, listed once: the help overlay shows them all and the footer the short form,
 * so the two cannot disagree.
 */

/** One key binding as the user reads it. */
export interface KeyHelp {
  readonly keys: string;
  readonly does: string;
}

/** Every key of the event browser, in the order the help lists them. */
export const keyHelp: readonly KeyHelp[] = [
  { keys: '↓ j / ↑ k', does: 'step to the next / previous event' },
  { keys: 'PgDn space / PgUp', does: 'page down / up' },
  { keys: 'Home / End G', does: 'first / last event' },
  { keys: 'g NUMBER ⏎', does: 'jump to a seq' },
  { keys: 't TIME ⏎', does: 'jump to a time: simulated ms, or wall ms / ISO date' },
  { keys: '/ TEXT ⏎, n', does: 'search type, address and ids; n finds the next' },
  { keys: 'f TERMS ⏎', does: 'filter: entity ids, event types (task/ prefix), addresses; empty clears' },
  { keys: 'Tab', does: 'select the next entity of this event' },
  { keys: 's', does: 'state pane: the component at the cursor, folded to the entity' },
  { keys: 'c', does: 'state pane: cycle the component shown' },
  { keys: 'd', does: "diff pane: this event's immer patches" },
  { keys: 'e', does: "timeline of the selected entity (attempts, lives, copies)" },
  { keys: 'w', does: 'why: the causal chain back to the root' },
  { keys: 'p', does: 'jump to the parent (cause) of this event' },
  { keys: 'b [ADDR] EXPR ⏎', does: 'breakpoint: first event where EXPR over state (s) holds' },
  { keys: 'x CHANGE ⏎', does: 'what if (sim traces): run again without fault N (drop N) or with it changed (N atMs=300)' },
  { keys: '[ / ]', does: 'scroll the pane up / down' },
  { keys: '?', does: 'this help (any key closes it)' },
  { keys: 'Esc', does: 'cancel a prompt, clear the message' },
  { keys: 'q', does: 'quit' },
];

/** The always-visible footer: the keys in a few words, fitting 80 columns. */
export const footerText = '↑↓jk PgUp/Dn g:seq t:time /:find n f:filter s d e w b p x Tab ?:help q:quit';
