// Opens the routoo page (the demo page, packaged) from the toolbar button, or with the
// selected text as its prompt from the context menu. Nothing else runs in the background.
const MENU = "routoo-ask";

/** Opens routoo in a tab, its prompt box holding `prompt` when given. */
function openRoutoo(prompt) {
  const url = new URL(chrome.runtime.getURL("index.html"));
  if (prompt) url.searchParams.set("prompt", prompt);
  return chrome.tabs.create({ url: url.href });
}
self.openRoutoo = openRoutoo; // for tests, which drive it from the worker

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU, title: "Route “%s” with routoo", contexts: ["selection"] });
});
chrome.contextMenus.onClicked.addListener((info) => {
  if (info.menuItemId === MENU) openRoutoo(info.selectionText);
});
chrome.action.onClicked.addListener(() => openRoutoo());
