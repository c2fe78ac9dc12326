// Opens routoo from the toolbar button; from the context menu, either in a tab with the
// selected text as its prompt, or in the side panel beside the page. Nothing else runs here.
const MENU = "routoo-ask";
const PANEL = "routoo-panel";

/** Opens routoo in a tab, its prompt box holding `prompt` when given. */
function openRoutoo(prompt) {
  const url = new URL(chrome.runtime.getURL("index.html"));
  if (prompt) url.searchParams.set("prompt", prompt);
  return chrome.tabs.create({ url: url.href });
}

/**
 * Opens the side panel in `windowId` (first, while the click still counts as the user's) and
 * hands it `prompt`: the panel takes it on load, or at once if it is open already.
 */
async function toPanel(prompt, windowId) {
  const opened = windowId === undefined ? Promise.resolve() : chrome.sidePanel.open({ windowId });
  await chrome.storage.session.set({ panelPrompt: { text: prompt, at: Date.now() } });
  await opened;
}

self.openRoutoo = openRoutoo; // for tests, which drive these from the worker
self.toPanel = toPanel;

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU, title: "Route “%s” with routoo", contexts: ["selection"] });
  chrome.contextMenus.create({ id: PANEL, title: "Ask routoo about “%s” in the side panel", contexts: ["selection"] });
});
chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId === MENU) openRoutoo(info.selectionText);
  if (info.menuItemId === PANEL) toPanel(info.selectionText, tab?.windowId);
});
chrome.action.onClicked.addListener(() => openRoutoo());
