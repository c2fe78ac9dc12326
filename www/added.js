// The models a user added by calibration, kept in IndexedDB as the heads files the router
// wrote (each holds the model's pool entry and its place in the shared space). The router
// checks a file whenever it is used; here it is only stored, listed and passed on.

const DB = "routoo";
const STORE = "models";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, act) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** The pool entry a heads file carries for its (first) model, or null. */
export function modelOf(heads) {
  const model = heads?.calibrations?.[0]?.model;
  return model && typeof model === "object" && typeof model.id === "string" ? model : null;
}

/** Every stored model: [{id, heads}]; none where IndexedDB is unavailable. */
export async function list() {
  try {
    return (await run("readonly", (s) => s.getAll())) ?? [];
  } catch {
    return [];
  }
}

export const keep = (heads) => run("readwrite", (s) => s.put({ id: modelOf(heads).id, heads }));
export const forget = (id) => run("readwrite", (s) => s.delete(id));

/** Offers a heads file as a download named after its model. */
export function download(heads) {
  const blob = new Blob([JSON.stringify(heads, null, 1)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${modelOf(heads)?.id ?? "model"}.heads.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** Most bytes read from an imported file: a heads file is a few kilobytes. */
export const MAX_IMPORT_BYTES = 1 << 20;
