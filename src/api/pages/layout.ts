import { html, type Html } from './html.js';

/** The pages' static files, served by ./routes.ts (no inline script or style: the CSP forbids them). */
export const PAGE_ASSETS = {
  script: '/checkout/assets/checkout.js',
  style: '/checkout/assets/checkout.css',
} as const;

export interface PageHeadersOptions {
  /** Origins the page's script may call (the gateway that tokenizes cards). */
  connect?: readonly string[];
  /** Origins forms may post to or be redirected to after posting (Chrome checks redirects too). */
  formTargets?: readonly string[];
}

/**
 * A strict Content-Security-Policy for the hosted pages: scripts and styles from this origin
 * only, no inline code, no framing (a payment page must not be clickjacked). The API's helmet
 * sets no CSP (JSON and the Swagger UI); the pages set their own.
 */
export function pageHeaders(options: PageHeadersOptions = {}): Record<string, string> {
  const origins = (list: readonly string[] | undefined) =>
    [...new Set((list ?? []).map((url) => new URL(url).origin))].join(' ');
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${origins(options.connect)}`.trim(),
    `form-action 'self' ${origins(options.formTargets)}`.trim(),
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': policy,
    'cache-control': 'no-store',
    // The session id in the URL is the page's credential: never sent on to other sites.
    'referrer-policy': 'no-referrer',
  };
}

/**
 * A whole page: language, phone viewport, title, one main landmark. Pages without a form leave
 * the script out (`script: false`).
 */
export function layout(args: { title: string; body: Html; lang?: string; script?: boolean }): string {
  return html`<!doctype html>
    <html lang="${args.lang ?? 'en'}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${args.title}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="${PAGE_ASSETS.style}" />
        ${args.script === false ? '' : html`<script src="${PAGE_ASSETS.script}" defer></script>`}
      </head>
      <body>
        <main>${args.body}</main>
      </body>
    </html> `.value;
}

/** Readable on a phone, visible focus, contrast of at least 4.5:1 for every text colour. */
export const PAGE_STYLE = `*,*::before,*::after{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f5f7}
main{max-width:28rem;margin:0 auto;padding:1.5rem 1rem}
h1{font-size:1.5rem;margin:0 0 .5rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.summary{background:#fff;border:1px solid #c9ccd1;border-radius:.5rem;padding:1rem}
.amount{font-size:1.75rem;font-weight:700;margin:.25rem 0 0}
.description{margin:0;color:#3d4047}
form{background:#fff;border:1px solid #c9ccd1;border-radius:.5rem;padding:1rem;margin-top:1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input{display:block;width:100%;font:inherit;padding:.65rem .75rem;border:1px solid #6b6f76;border-radius:.375rem;background:#fff;color:#1a1a1a}
.row{display:flex;gap:.75rem;align-items:flex-end}.row>div{flex:1}
form h2{margin-top:0}
button,.link-button{display:block;width:100%;margin-top:1rem;font:inherit;font-weight:600;padding:.75rem;border-radius:.375rem;border:0;background:#0b57d0;color:#fff;cursor:pointer;text-align:center;text-decoration:none}
button:disabled{background:#5f6368;cursor:not-allowed}
.secondary{background:#fff;color:#0b57d0;border:2px solid #0b57d0}
a{color:#0b57d0}
.cancel{display:block;text-align:center;margin-top:1.25rem}
:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}
.error{color:#b3261e;font-weight:600;margin:1rem 0 0}
.error:empty{display:none}
.notice{background:#fff;border:1px solid #c9ccd1;border-radius:.5rem;padding:1rem}
`;
