# Render the self-contained HTML report.


rule report:
    input:
        analysis=rules.analyse.output.analysis,
        runs=rules.aggregate.output.runs,
        costs=rules.aggregate.output.costs,
        figures=rules.figures.output,
        templates=report_templates,
    output:
        REPORT_FILE,
    log:
        paper("logs/report.log"),
    conda:
        CONDA_ENV
    params:
        config=config_json,
        analysis=input_folder,
        tables=report_tables_folder,
    shell:
        "python -m bench.paper.report --config-json {params.config:q} --analysis {params.analysis:q}"
        " --tables {params.tables:q} --figures {input.figures:q} --out {output:q} > {log:q} 2>&1"
