#!/usr/bin/env python
"""Per-class IoU of every run of a pattern study, from the test tables in the runs' logs.

    python benchmarks/analysis/pattern_study_demo/per_class.py work_dirs/pattern_study_demo

mmseg's IoUMetric logs the per-class table but returns only aAcc / mIoU / mAcc, so the study's
result.json files do not hold it; this reads the newest log of each run.
"""
import re
import sys
from pathlib import Path

ROW = re.compile(r'^\|\s*([\w ]+?)\s*\|\s*([\d.]+|nan)\s*\|\s*([\d.]+|nan)\s*\|$', re.M)


def main(work_dir: str) -> int:
    runs = sorted(Path(work_dir, 'runs').glob('*/seed*'))
    if not runs:
        print(f'{work_dir}/runs holds no runs', file=sys.stderr)
        return 2
    header = None
    for run in runs:
        logs = sorted(run.glob('*/*.log'))
        text = logs[-1].read_text() if logs else ''
        if 'per class results' not in text:
            continue
        rows = ROW.findall(text[text.rindex('per class results'):])
        if header is None:
            header = [name for name, _, _ in rows]
            print('pattern,seed,' + ','.join(f'IoU {name}' for name in header))
        print(f'{run.parent.name.replace("-", "/")},{run.name[4:]},' +
              ','.join(iou for _, iou, _ in rows))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
