import { join } from 'node:path';
import Database from 'better-sqlite3';
import { checkStore, recoverStore, type StoreReport } from './integrity.js';
import { lockDataFolder } from './sqlite-store.js';

const open = (file: string, readonly: boolean): Database.Database => new Database(file, { readonly, fileMustExist: true });

/** `vigil store check`: every check in full, holding the folder (a running server must be stopped first). */
export function checkStoreFolder(dir: string): StoreReport {
  const unlock = lockDataFolder(dir);
  try {
    return checkStore(dir, open);
  } finally {
    unlock();
  }
}

/** `vigil store recover`: accept the loss after damage (see recoverStore). */
export function recoverStoreFolder(dir: string): { actions: string[]; report: StoreReport } {
  const unlock = lockDataFolder(dir);
  try {
    return recoverStore(join(dir), open);
  } finally {
    unlock();
  }
}
