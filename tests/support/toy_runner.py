"""A toy mmengine Runner (a linear regressor on 8 random samples) for the checkpoint and hook
tests: it trains in a second and writes real checkpoints."""
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset


class ToyRegressor(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, inputs, targets, mode='loss'):
        inputs, targets = torch.stack(inputs), torch.stack(targets)
        loss = torch.nn.functional.mse_loss(self.linear(inputs), targets)
        return dict(loss=loss) if mode == 'loss' else [loss]


class ToyData(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randn(4, generator=generator), targets=torch.ones(1))


def make_runner(work_dir, max_iters, checkpoint_backend_args=None, model=None, checkpoint=None,
                **kwargs):
    """A toy Runner; ``checkpoint`` updates its CheckpointHook config."""
    return Runner(
        model=model or ToyRegressor(),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=ToyData(), batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        param_scheduler=dict(type='MultiStepLR', milestones=[3], by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(dict(type='CheckpointHook', interval=2, by_epoch=False,
                                                backend_args=checkpoint_backend_args),
                                           **(checkpoint or {})),
                           logger=dict(type='LoggerHook', interval=1)),
        experiment_name=f'toy_{max_iters}_{work_dir.name}',
        **kwargs)
