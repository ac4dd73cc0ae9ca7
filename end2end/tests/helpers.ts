import { expect, type Page } from "@playwright/test";

export const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? "";

const consoleErrors = new WeakMap<Page, string[]>();

/** Keeps the page's console errors and uncaught exceptions (a WASM panic lands there). */
export function watchConsole(page: Page) {
  if (consoleErrors.has(page)) return;
  const errors: string[] = [];
  consoleErrors.set(page, errors);
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(`${e.name}: ${e.message}`));
}

/**
 * Waits until the WASM bundle has hydrated the page's islands (the app runs in
 * Leptos islands mode: pages are server-rendered, links and plain forms are
 * full page loads, so wait again after each navigation); on failure shows why.
 */
export async function hydrated(page: Page) {
  watchConsole(page);
  try {
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  } catch (e) {
    const errors = consoleErrors.get(page) ?? [];
    throw new Error(
      `the page at ${page.url()} did not hydrate; browser console errors:\n${errors.join("\n") || "(none)"}\n${e}`,
    );
  }
  // The marker is set after the islands' hydration ran, not only when it worked:
  // a panic or a hydration error lands in the console. Refused requests (a 404
  // page, a 401 the test asked for) log "Failed to load resource", which is fine.
  const fatal = (consoleErrors.get(page) ?? []).filter((m) => !m.startsWith("Failed to load resource"));
  expect(fatal, `browser console errors on ${page.url()}`).toEqual([]);
}

/** Opens /admin, signing in when needed, and waits for the dashboard. */
export async function openDashboard(page: Page) {
  watchConsole(page);
  await page.goto("/admin");
  await hydrated(page);
  const signIn = page.getByRole("button", { name: "Sign in" });
  if (await signIn.isVisible()) {
    await page.getByLabel("Admin name").fill("admin");
    await page.getByLabel("Password").fill(adminPassword);
    // A plain form post: the server sets the cookie and redirects back to /admin.
    await signIn.click();
    await expect(page.locator('[data-stat="clicks"] .stat-value')).toBeVisible();
    await hydrated(page);
  }
  await expect(page.locator('[data-stat="clicks"] .stat-value')).toBeVisible();
}

/** Signs in a fresh end user by handle. */
export async function signInUser(page: Page, prefix = "e2e"): Promise<string> {
  const handle = `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1000)}`;
  watchConsole(page);
  await page.goto("/");
  await hydrated(page);
  await page.getByLabel("Your handle").fill(handle);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  await hydrated(page);
  return handle;
}

/** Adds chips to a chip field by typing and pressing Enter. */
export async function addChips(page: Page, label: string | RegExp, values: string[]) {
  const box = page.getByLabel(label, { exact: typeof label === "string" });
  for (const v of values) {
    await box.fill(v);
    await box.press("Enter");
  }
}

/** Imports a catalog file through the dashboard's upload form; returns the summary element. */
export async function importThroughBrowser(page: Page, name: string, content: string) {
  await openDashboard(page);
  await page.getByLabel("Catalog file (.jsonl or .csv)").setInputFiles({
    name,
    mimeType: name.endsWith(".csv") ? "text/csv" : "application/x-ndjson",
    buffer: Buffer.from(content, "utf8"),
  });
  await page.getByRole("button", { name: "Import", exact: true }).click();
  const summary = page.locator(".import-summary");
  await expect(summary).toBeVisible({ timeout: 60_000 });
  return summary;
}
