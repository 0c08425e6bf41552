import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import axe from 'axe-core';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium } from '../support/browser.js';
import { createCheckout } from '../support/checkout.js';

const chromium = findChromium('the checkout browser tests');
const SCREENSHOTS = path.resolve('.tmp/screenshots');

/** The merchant's site: where the page sends the customer after paying or canceling. */
function merchantSite(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Merchant</title></head>` +
        `<body><main><h1>Merchant: ${request.url?.startsWith('/success') ? 'paid' : 'canceled'}</h1></main></body></html>`,
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

describe.skipIf(!chromium)('the hosted checkout page in a browser (Chromium, phone viewport)', () => {
  let browser: Browser;
  let merchant: { server: Server; url: string };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    merchant = await merchantSite();
    browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      // Containers run tests as root, where Chromium's sandbox cannot start.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => merchant?.server.close(resolve));
  });

  /** A page on a phone-sized viewport that records every console error and uncaught exception. */
  async function phonePage(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(String(error)));
    return { page, errors };
  }

  async function session() {
    return createCheckout({ successUrl: `${merchant.url}/success`, cancelUrl: `${merchant.url}/cancel` });
  }

  /** Opens the page and waits for its script to have attached its handlers. */
  async function openCheckout(page: Page, url: string) {
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('#card-form[data-ready="1"]');
  }

  async function seriousViolations(page: Page) {
    await page.evaluate(axe.source);
    // Runs in the page, where axe-core was just injected.
    const result = (await page.evaluate(
      "axe.run(document, { resultTypes: ['violations'] })",
    )) as axe.AxeResults;
    return result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map(
        (violation) =>
          `${violation.id}: ${violation.help} (${violation.nodes.map((n) => n.target).join(', ')})`,
      );
  }

  async function typeCard(page: Page, number: string) {
    await page.type('#card-number', number);
    await page.type('#card-expiry', '12 / 34');
    await page.type('#card-cvc', '123');
  }

  /** Clicks and waits for the navigation it starts (the wait begins before the click). */
  async function clickAndNavigate(page: Page, selector: string) {
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({
      path: path.join(SCREENSHOTS, `checkout-${name}.png`),
      fullPage: true,
    });

  it('pays with 4242 4242 4242 4242 and lands on the success URL', async () => {
    const { page, errors } = await phonePage();
    const checkout = await session();
    await openCheckout(page, checkout.url);
    await shot(page, '1-page');
    expect(await seriousViolations(page)).toEqual([]);
    await typeCard(page, '4242 4242 4242 4242');
    await shot(page, '2-card-typed');
    await clickAndNavigate(page, '#card-form button[type="submit"]');
    const landed = new URL(page.url());
    expect(`${landed.origin}${landed.pathname}`).toBe(`${merchant.url}/success`);
    expect(landed.searchParams.get('session_id')).toBe(checkout.id);
    await shot(page, '3-success');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('goes through the 3-D Secure challenge and back through the return route', async () => {
    const { page, errors } = await phonePage();
    const checkout = await session();
    await openCheckout(page, checkout.url);
    await typeCard(page, '4000 0000 0000 3333');
    await clickAndNavigate(page, '#card-form button[type="submit"]');
    expect(page.url()).toMatch(/\/3ds\/auth_/);
    await shot(page, '4-3ds-challenge');
    const [complete] = await page.$$('xpath/.//button[contains(., "Complete authentication")]');
    expect(complete).toBeDefined();
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), complete!.click()]);
    const landed = new URL(page.url());
    expect(`${landed.origin}${landed.pathname}`).toBe(`${merchant.url}/success`);
    expect(landed.searchParams.get('session_id')).toBe(checkout.id);
    await shot(page, '5-3ds-success');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the decline reason on the page, announced, for another try', async () => {
    const { page, errors } = await phonePage();
    const checkout = await session();
    await openCheckout(page, checkout.url);
    await typeCard(page, '4000 0000 0000 0000');
    await clickAndNavigate(page, '#card-form button[type="submit"]');
    expect(new URL(page.url()).pathname).toBe(`/checkout/${checkout.id}/pay`);
    await page.waitForSelector('#card-form[data-ready="1"]');
    const alert = await page.$eval('[role="alert"]', (element) => element.textContent);
    expect(alert).toContain('Your card was declined');
    await shot(page, '6-declined');
    expect(await seriousViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('checks the card before tokenizing it and says what to fix', async () => {
    const { page, errors } = await phonePage();
    const checkout = await session();
    await openCheckout(page, checkout.url);
    await page.type('#card-number', '4242');
    await page.click('#card-form button[type="submit"]');
    await page.waitForFunction(
      `document.querySelector('[role="alert"]').textContent === 'Enter the card number.'`,
    );
    expect(await page.$eval('#card-number', (input) => input.getAttribute('aria-invalid'))).toBe('true');
    expect(new URL(page.url()).pathname).toBe(`/checkout/${checkout.id}`);
    await shot(page, '7-invalid-card');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('cancel goes back to the cancel URL', async () => {
    const { page, errors } = await phonePage();
    const checkout = await session();
    await openCheckout(page, checkout.url);
    await clickAndNavigate(page, 'a.cancel');
    expect(page.url()).toBe(`${merchant.url}/cancel`);
    await shot(page, '8-canceled');
    expect(errors).toEqual([]);
    await page.close();
  });
});
