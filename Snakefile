# rpg-bench: train every (agent variant x environment x seed) run, then
# aggregate, analyse, plot and render the paper-style report.
#
#   snakemake --cores 8                          # full paper -> results/report/index.html
#   snakemake --cores 2 --config profile=quick   # quick profile -> results/quick/report/index.html
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/doctor.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        REPORT,
