export { paymentWorkflow } from './payment.js';
export { refundWorkflow } from './refund.js';
export { topUpWorkflow } from './top-up.js';
export { eventRelay } from './event-relay.js';
export { webhookEndpointWorkflow, webhookManualRetry } from '../webhooks/workflow.js';
export { checkoutSessionWorkflow } from './checkout-session.js';
