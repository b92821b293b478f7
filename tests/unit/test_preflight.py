"""The deploy preflight's judgement of a pandas layer ARN (pure: Lambda's answer is given)."""

from stockctl.preflight import deploy_settings, layer_problems, release_note

GOOD = "arn:aws:lambda:eu-central-1:336392948345:layer:AWSSDKPandas-Python312-Arm64:31"
ANSWER = {"CompatibleRuntimes": ["python3.12"], "CompatibleArchitectures": ["arm64"], "Description": "3.16.1"}


def test_a_published_layer_of_the_deploy_region_for_python312_arm64_passes():
    assert layer_problems(GOOD, "eu-central-1", ANSWER) == []


def test_a_layer_of_another_region_names_both_regions_and_where_to_look():
    (problem,) = layer_problems(GOOD, "eu-west-1", None)
    assert "eu-central-1" in problem and "eu-west-1" in problem and "layers.html" in problem


def test_a_version_never_published_says_so():
    (problem,) = layer_problems(GOOD, "eu-central-1", None)
    assert "version 31" in problem and "does not exist" in problem


def test_a_layer_built_for_another_platform_is_refused():
    answer = {"CompatibleRuntimes": ["python3.11"], "CompatibleArchitectures": ["x86_64"]}
    problems = layer_problems(GOOD, "eu-central-1", answer)
    assert any("python3.11" in p for p in problems) and any("x86_64" in p for p in problems)


def test_a_placeholder_is_not_an_arn():
    (problem,) = layer_problems(GOOD.replace(":31", ":VERSION_FROM_THE_TABLE"), "eu-central-1", None)
    assert "not a layer version ARN" in problem


def test_another_release_than_the_tested_one_is_a_warning_not_a_failure():
    assert release_note({"Description": "AWS SDK for pandas 3.16.1"}, "3.16.1") is None
    assert "3.17.0" in release_note({"Description": "AWS SDK for pandas 3.17.0"}, "3.16.1")


def test_the_settings_come_from_samconfig_as_sam_deploy_reads_them(tmp_path):
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[default.deploy.parameters]\nregion = "eu-west-1"\n'
        f'parameter_overrides = ["AlertEmail=a@example.com", "PandasLayerArn={GOOD}"]\n'
        '[prod.deploy.parameters]\nparameter_overrides = "AlertEmail=\\"b@example.com\\" PandasLayerArn=x"\n'
    )
    assert deploy_settings(config) == ("eu-west-1", {"AlertEmail": "a@example.com", "PandasLayerArn": GOOD})
    assert deploy_settings(config, "prod") == (None, {"AlertEmail": "b@example.com", "PandasLayerArn": "x"})
