// What the model gateway reads and changes in the manager: sessions' usage (each settled call is
// added and saved at once), the budgets, and opencode's catalog for prices, output limits and the
// metric label of a model.
import type { GatewayHost } from '../gateway/model-gateway.js';
import type { ModelTerms } from '../gateway/model-ledger.js';
import { gatewayRecorder } from '../metrics/gateway-metrics.js';
import { OTHER_MODEL } from '../metrics/usage-metrics.js';
import { addCall } from '../usage/usage.js';
import type { ManagerCore } from './manager-core.js';

export function gatewayHost(core: ManagerCore): GatewayHost {
  const { sessions, settings } = core;
  const qualified = (provider: string, model: string | undefined): string | undefined => (model === undefined ? undefined : `${provider}/${model}`);
  return {
    usageOf: (id) => sessions.get(id)?.usage,
    addUsage: (id, tokens, cost) => {
      const session = sessions.get(id);
      if (session === undefined) return;
      sessions.updateUsage(session, (usage) => addCall(usage, tokens, cost));
    },
    // A shared server serves the sessions pinned to its slot: another slot's conversation is not its to spend on.
    sessionOfConversation: (conversation, slot) => sessions.list().find((session) => session.opencodeSessionId === conversation && session.slot === slot)?.id,
    budgets: () => settings.budgets,
    rpm: settings.budgets.sessionModelRpm,
    termsOf: (provider, model): ModelTerms => {
      const name = qualified(provider, model);
      const terms = name === undefined ? undefined : core.catalog?.terms[name];
      return { price: terms?.price, outputLimit: terms?.outputLimit };
    },
    modelLabel: (provider, model) => {
      const name = qualified(provider, model);
      return name !== undefined && core.catalog?.models.includes(name) === true ? name : OTHER_MODEL;
    },
    recorder: gatewayRecorder(core.metrics),
    logger: core.logger,
  };
}
