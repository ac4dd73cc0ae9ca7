import { expect, type Page } from "@playwright/test";

export const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? "";

/** Waits until the WASM bundle has hydrated the page. */
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** Opens /admin, signing in when needed, and waits for the dashboard. */
export async function openDashboard(page: Page) {
  await page.goto("/admin");
  await hydrated(page);
  const signIn = page.getByRole("button", { name: "Sign in" });
  if (await signIn.isVisible()) {
    await page.getByLabel("Admin name").fill("admin");
    await page.getByLabel("Password").fill(adminPassword);
    await signIn.click();
  }
  await expect(page.locator('[data-stat="clicks"] .stat-value')).toBeVisible();
}

/** Signs in a fresh end user by handle. */
export async function signInUser(page: Page, prefix = "e2e"): Promise<string> {
  const handle = `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1000)}`;
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
