"""Deploy a CloudFormation template (the CDK synth output) to the local cloud's moto server.

moto's own CloudFormation silently skips secrets, connections, API destinations and pipes, so this
package creates each resource through the services' public APIs instead:

* :mod:`.intrinsics`: Ref, Fn::GetAtt/Sub/Join/Select/Split/If, conditions, pseudo parameters and
  ``{{resolve:secretsmanager:...}}`` dynamic references;
* :mod:`.shapes`: CloudFormation property shapes -> boto3 request shapes (botocore's models);
* :mod:`.resources` (contract), :mod:`.storage` and :mod:`.integration` (one handler per type);
* :mod:`.record`: what was deployed (``<state_dir>/stacks/<stack>.json``);
* :mod:`.deploy`: ordering, idempotent deploy, destroy, outputs.
"""

from helpers.local.deployer.deploy import deploy, destroy, read_outputs, read_record
from helpers.local.deployer.intrinsics import DeployError
from helpers.local.deployer.record import ResourceRecord, StackRecord

__all__ = ["DeployError", "ResourceRecord", "StackRecord", "deploy", "destroy", "read_outputs", "read_record"]
