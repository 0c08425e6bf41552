import { describe, expect, it } from 'vitest';
import { checkoutPage, endedPage } from '../../src/api/pages/checkout.js';
import { escapeHtml, html } from '../../src/api/pages/html.js';
import { pageHeaders } from '../../src/api/pages/layout.js';
import type { CheckoutSessionView } from '../../src/domain/checkout.js';

const session: CheckoutSessionView = {
  id: `cs_${'a'.repeat(32)}`,
  tenantId: 'default',
  orderId: 'ord_1',
  customerId: 'cus_1',
  amount: 5,
  currency: 'JPY',
  description: '"><script>alert(1)</script>',
  successUrl: 'https://merchant.example/done?x=1&y="2"',
  cancelUrl: 'https://merchant.example/cancel',
  allowedMethods: ['card'],
  status: 'open',
  expiresAt: '2030-01-01T00:00:00.000Z',
  createdAt: '2030-01-01T00:00:00.000Z',
  updatedAt: '2030-01-01T00:00:00.000Z',
};

describe('hosted page rendering', () => {
  it('escapes every interpolated value, and only those', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}${['<', html`<em>ok</em>`]}</p>`.value).toBe(
      '<p><b>&lt;i&gt;</b>&lt;<em>ok</em></p>',
    );
  });

  it('renders the merchant text escaped and the amount from minor units', () => {
    const page = checkoutPage({ session, walletCovers: false }, { gatewayUrl: 'http://127.0.0.1:4010' });
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('5 JPY');
    expect(page).toContain('<html lang="en">');
    expect(page).toContain('name="viewport"');
    expect(page).toMatch(/<main>[\s\S]*<\/main>/);
    expect(page).not.toMatch(/ on[a-z]+=/);
    expect(page).not.toMatch(/<script>/);
  });

  it('sends a paid customer to the success URL with the session id', () => {
    const page = endedPage({ ...session, status: 'complete' });
    expect(page).toContain('This checkout is paid');
    expect(page).toContain(
      `href="https://merchant.example/done?x=1&amp;y=%222%22&amp;session_id=${session.id}"`,
    );
  });

  it('allows scripts from itself only and calls only the gateway', () => {
    const csp = pageHeaders({ connect: ['http://127.0.0.1:4010/x'], formTargets: ['https://m.example/a?b'] })[
      'content-security-policy'
    ];
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self' http://127.0.0.1:4010;");
    expect(csp).toContain("form-action 'self' https://m.example;");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
  });
});
