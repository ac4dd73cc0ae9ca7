import { expect, test, type Page, type Response } from "@playwright/test";

import { hydrated, openDashboard, signInUser } from "./helpers";

/** Collects CSP violations the page reports (set before any of its scripts run). */
async function recordViolations(page: Page) {
  await page.addInitScript(() => {
    const w = window as unknown as { cspViolations: string[] };
    w.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
}

async function violations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
}

function expectStrictHeaders(res: Response | null) {
  expect(res, "a response").not.toBeNull();
  const headers = res!.headers();
  const csp = headers["content-security-policy"] ?? "";
  const scriptSrc = csp.split(";").map((d) => d.trim()).find((d) => d.startsWith("script-src")) ?? "";
  expect(scriptSrc, csp).toMatch(/'nonce-[A-Za-z0-9_-]{16,}'/);
  expect(scriptSrc, csp).not.toContain("'unsafe-inline'");
  expect(scriptSrc, csp).not.toContain("'unsafe-eval'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
}

test("pages carry a nonce CSP without 'unsafe-inline', and hydration breaks none of it", async ({ page, browser }) => {
  await recordViolations(page);
  // The sign-in page, then the signed-in workspace island (the most script).
  expectStrictHeaders(await page.goto("/"));
  await hydrated(page);
  await signInUser(page, "csp");
  expectStrictHeaders(await page.reload());
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  expect(await violations(page)).toEqual([]);

  // The dashboard and its import island.
  const admin = await browser.newPage();
  await recordViolations(admin);
  await openDashboard(admin);
  expectStrictHeaders(await admin.reload());
  await hydrated(admin);
  expect(await violations(admin)).toEqual([]);

  // The policy works: a script without the nonce does not run.
  const blocked = await page.evaluate(() => {
    const s = document.createElement("script");
    s.textContent = "window.injected = true;";
    document.body.appendChild(s);
    return (window as unknown as { injected?: boolean }).injected === true;
  });
  expect(blocked).toBe(false);
  await expect.poll(() => violations(page)).toContainEqual(expect.stringContaining("script-src"));
});
