export { paymentWorkflow } from './payment.js';
export { topUpWorkflow } from './top-up.js';
