// Issue 6's figures as a bench suite: pull+unpack of a ~100 MB image from a loopback registry
// (tsrun vs skopeo copy + umoci unpack) and one gzip layer applied (tsrun vs tar -xzf). The
// measuring code is scripts/bench/images.mjs; this only shapes its results into rows and ratios.
import { benchLayerApply, benchPullUnpack } from '../images.mjs';
import { summarize } from '../stats.mjs';

function rowsOf(op, r, otherName) {
  return [
    { suite: 'images', op, impl: 'tsrun', label: `${op} (tsrun)`, failures: 0, ...summarize(r.tsrun), samples: r.tsrun },
    { suite: 'images', op, impl: otherName, label: `${op} (${otherName})`, failures: 0, ...summarize(r.other), samples: r.other },
  ];
}

export default {
  name: 'images',
  title: 'images: pull+unpack vs skopeo+umoci, layer apply vs tar -xzf',
  async run(ctx) {
    const rounds = Math.max(1, Math.min(ctx.opts.iterations, 3));
    ctx.progress('images: pull+unpack (this builds a ~100 MB image and a loopback registry)');
    const pull = await benchPullUnpack({ mb: 100, rounds, work: ctx.tmp });
    ctx.progress('images: layer apply');
    const apply = await benchLayerApply({ mb: 50, rounds, work: ctx.tmp });
    return {
      rows: [...rowsOf('pull+unpack', pull, 'skopeo+umoci'), ...rowsOf('apply gzip layer', apply, 'tar -xzf')],
      ratioPairs: [
        { op: 'pull+unpack', impl: 'tsrun', base: 'skopeo+umoci' },
        { op: 'apply gzip layer', impl: 'tsrun', base: 'tar -xzf' },
      ],
    };
  },
};
