import { describeGateway } from '../contract/payment-gateway.js';
import { IN_MEMORY_CARDS, InMemoryGateway } from '../support/in-memory-gateway.js';

// The gateway behind the workflow tests' fake activities keeps the promises the real connectors keep.
describeGateway('in-memory', {
  cards: IN_MEMORY_CARDS,
  capabilities: { threeDS: true },
  currency: 'EUR',
  async start() {
    const gateway = new InMemoryGateway();
    return {
      gateway,
      unreachable: new InMemoryGateway().goDown(),
      loseNextAnswer: async () => gateway.loseNextAnswer(),
      completeChallenge: async (id, outcome) => gateway.completeChallenge(id, outcome),
      signedWebhook: async (id) => gateway.signedWebhook(id),
    };
  },
});
