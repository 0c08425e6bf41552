/**
 * The hosted page's script, served as a static file (`script-src 'self'`, no inline code). As
 * Stripe.js does, it tokenizes the card at the gateway from the customer's browser, so the card
 * number never reaches Paysaga: the card inputs have no `name` (a form post cannot carry them),
 * and the form posts only the token. The pay button starts disabled and the script enables it
 * once its handler is attached (`data-ready="1"` on the form), so the form never submits
 * without a token.
 */
export const CHECKOUT_SCRIPT = `(function () {
  'use strict';
  var form = document.getElementById('card-form');
  if (!form) return;
  var alertBox = document.getElementById('checkout-error');
  var button = form.querySelector('button[type="submit"]');
  var tokenInput = form.querySelector('input[name="token"]');
  var gateway = form.getAttribute('data-gateway');
  function show(message) {
    alertBox.textContent = message;
  }
  function digits(value) {
    return value.replace(/\\D/g, '');
  }
  function field(id) {
    return document.getElementById(id);
  }
  function fail(input, message) {
    show(message);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (form.dataset.busy === '1') return;
    ['card-number', 'card-expiry', 'card-cvc'].forEach(function (id) {
      field(id).removeAttribute('aria-invalid');
    });
    var number = digits(field('card-number').value);
    var expiry = /^\\s*(\\d{1,2})\\s*\\/?\\s*(\\d{2}|\\d{4})\\s*$/.exec(field('card-expiry').value);
    var cvc = digits(field('card-cvc').value);
    if (number.length < 12 || number.length > 19) return fail(field('card-number'), 'Enter the card number.');
    var month = expiry ? Number(expiry[1]) : 0;
    var year = expiry ? Number(expiry[2]) : 0;
    if (year < 100) year += 2000;
    if (month < 1 || month > 12) return fail(field('card-expiry'), 'Enter the expiry date as MM / YY.');
    if (cvc.length < 3 || cvc.length > 4) return fail(field('card-cvc'), 'Enter the 3 or 4 digit security code.');
    show('');
    form.dataset.busy = '1';
    button.disabled = true;
    fetch(gateway + '/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ number: number, expMonth: month, expYear: year, cvc: cvc })
    })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok || !body || typeof body.id !== 'string') {
            throw new Error((body && body.error && body.error.message) || 'The card could not be read.');
          }
          return body.id;
        });
      })
      .then(function (token) {
        tokenInput.value = token;
        form.submit();
      })
      .catch(function (error) {
        form.dataset.busy = '';
        button.disabled = false;
        show((error && error.message) || 'The card could not be read. Check it and try again.');
      });
  });
  button.disabled = false;
  form.dataset.ready = '1';
})();
`;
