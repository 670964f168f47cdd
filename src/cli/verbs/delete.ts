import { deleteContainer } from '../../container/delete.js';
import { NotFoundError } from '../../errors.js';
import { StateStore } from '../../state/store.js';
import type { VerbContext } from '../main.js';

export default async function del({ cl, log, id }: VerbContext): Promise<number> {
  const force = cl.flags.force === true;
  try {
    await deleteContainer({ root: cl.global.root, id, force, logger: log });
  } catch (err) {
    // runc delete.go: a directory without state is an aborted create; --force makes a missing
    // container a success, which is what engines expect of an idempotent delete.
    if (!(err instanceof NotFoundError)) throw err;
    new StateStore(cl.global.root).remove(id);
    if (!force) throw err;
  }
  return 0;
}
