/**
 * Paysaga's layers, as a check that fails `npm run lint` when an import points the wrong way.
 * docs/architecture.md#layers draws them. Lowest first:
 *
 *   domain          pure types and rules, no I/O
 *   platform        config, logging, metrics, tracing: the process's plumbing
 *   infrastructure  PostgreSQL (db), gateway connectors, event sinks, webhook delivery
 *   workflows       Temporal workflow code: deterministic, so domain only
 *   app             the use cases both doors share
 *   adapters        api (HTTP), commands (brokers), worker (Temporal worker + activities)
 *   colocated       the API and the worker in one process: a composition root over both
 *
 * Outgoing webhooks are one feature folder (src/webhooks/), one file per layer role.
 */
const DOMAIN = ['^src/domain/', '^src/webhooks/(domain|address-policy)\\.ts$'];
const PLATFORM = [
  '^src/(config|logger|metrics|tracing|payment-id|process-policy|project-root|hash|free-port)\\.ts$',
  '^src/require-node\\.mjs$',
];
const INFRA = [
  '^src/(db|gateway|events|profiles)/',
  '^src/webhooks/(store|deliver|egress|secrets|sink)\\.ts$',
];
/** The workflows' published interface (names, signals, inputs): what callers start and signal. */
const WORKFLOW_CONTRACT = ['^src/workflows/contract\\.ts$'];
const WORKFLOWS = ['^src/workflows/', '^src/webhooks/workflow\\.ts$'];
const APP = ['^src/app/', '^src/webhooks/endpoints\\.ts$'];
const API = ['^src/api/', '^src/webhooks/routes\\.ts$'];
const COMMANDS = ['^src/commands/'];
const WORKER = ['^src/worker/', '^src/activities/', '^src/webhooks/activities\\.ts$'];
const ADAPTERS = [...API, ...COMMANDS, ...WORKER];
/** src/colocated/main.ts starts the API and the worker in one process; nothing imports it. */
const COLOCATED = ['^src/colocated/'];
/** The activities' interface: the worker's, but workflows and the timeline name steps by it. */
const ACTIVITY_INTERFACE = ['^src/activities/index\\.ts$'];
const HARNESS = ['^(tools|test|bench|chaos|scripts|sandbox)/'];

/** A rule that `from` may not import `to` (runtime imports; type-only ones too unless `typesToo` is false). */
const forbid = (name, comment, from, to, { typesToo = true } = {}) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from.from ?? from, pathNot: from.not },
  to: { path: to.to ?? to, pathNot: to.not, ...(typesToo ? {} : { dependencyTypesNot: ['type-only'] }) },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle ties modules that should stand apart; move the shared part down a layer.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    forbid('src-not-harness', 'Production code never loads the dev/test harness.', ['^src/'], HARNESS),
    forbid('domain-is-pure', 'The domain imports only the domain.', DOMAIN, {
      to: ['^src/'],
      not: DOMAIN,
    }),
    forbid('platform-stays-low', 'Platform code imports only the domain and the platform.', PLATFORM, {
      to: ['^src/'],
      not: [...DOMAIN, ...PLATFORM],
    }),
    forbid(
      'infrastructure-stays-low',
      'Infrastructure serves the layers above it and never calls into them.',
      INFRA,
      { to: [...WORKFLOWS, ...APP, ...ADAPTERS], not: WORKFLOW_CONTRACT },
    ),
    forbid(
      'workflows-are-deterministic',
      'Workflow code runs in the sandbox: domain and workflows only (activity interfaces as types).',
      WORKFLOWS,
      { to: ['^src/'], not: [...DOMAIN, ...WORKFLOWS] },
      { typesToo: false },
    ),
    forbid(
      'app-below-adapters',
      'The application layer knows no door: no HTTP, broker or worker code.',
      APP,
      { to: ADAPTERS, not: ACTIVITY_INTERFACE },
    ),
    forbid(
      'activity-interface-as-types',
      'The activities interface (what workflows call) is read as a type only, as the timeline names steps by it.',
      [...APP, ...WORKFLOWS],
      ACTIVITY_INTERFACE,
      { typesToo: false },
    ),
    forbid(
      'api-through-app',
      'Routes reach PostgreSQL, gateways, sinks and Temporal through the application layer.',
      API,
      { to: [...INFRA, ...WORKER, ...COMMANDS, '^node_modules/@temporalio/client/'] },
      { typesToo: false },
    ),
    forbid(
      'commands-apart',
      'The broker consumer is its own door: not through the HTTP API or the worker.',
      COMMANDS,
      [...API, ...WORKER],
    ),
    forbid(
      'colocated-on-top',
      'The co-located process composes the doors; no module imports it.',
      ['^src/'],
      {
        to: COLOCATED,
        not: COLOCATED,
      },
    ),
    forbid('worker-apart', 'The worker is its own door: not through the HTTP API or the consumer.', WORKER, [
      ...API,
      ...COMMANDS,
    ]),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    exclude: { path: '\\.d\\.mts$' },
  },
};
