"""MITRE ATT&CK techniques of the cloud (IaaS) matrix that CloudTrail can show, and which rules cover them.

The list is what the coverage matrix (``irkit rules list --attack``, docs/rules.md) is measured
against: a technique with no rule is shown as not covered, so a reader sees the holes as well as the
cover. Technique ids and names are MITRE's (ATT&CK® Enterprise, cloud/IaaS techniques; https://attack.mitre.org).

```python
coverage(catalog())   # [{"technique": "T1098.001", "name": "...", "tactic": "persistence", "rules": [...]}, ...]
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TACTICS = (
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "exfiltration",
    "impact",
)

# (id, name, tactic the matrix lists it under); a technique of several tactics appears under the one
# a responder thinks of first.
TECHNIQUES: tuple[tuple[str, str, str], ...] = (
    ("T1078.004", "Valid Accounts: Cloud Accounts", "initial-access"),
    ("T1190", "Exploit Public-Facing Application", "initial-access"),
    ("T1199", "Trusted Relationship", "initial-access"),
    ("T1133", "External Remote Services", "initial-access"),
    ("T1651", "Cloud Administration Command", "execution"),
    ("T1648", "Serverless Execution", "execution"),
    ("T1059.009", "Command and Scripting Interpreter: Cloud API", "execution"),
    ("T1204.003", "User Execution: Malicious Image", "execution"),
    ("T1098", "Account Manipulation", "persistence"),
    ("T1098.001", "Account Manipulation: Additional Cloud Credentials", "persistence"),
    ("T1098.003", "Account Manipulation: Additional Cloud Roles", "persistence"),
    ("T1098.004", "Account Manipulation: SSH Authorized Keys", "persistence"),
    ("T1136.003", "Create Account: Cloud Account", "persistence"),
    ("T1546", "Event Triggered Execution", "persistence"),
    ("T1525", "Implant Internal Image", "persistence"),
    ("T1556.006", "Modify Authentication Process: Multi-Factor Authentication", "persistence"),
    ("T1556.007", "Modify Authentication Process: Hybrid Identity", "persistence"),
    ("T1484", "Domain or Tenant Policy Modification", "privilege-escalation"),
    ("T1484.002", "Domain or Tenant Policy Modification: Trust Modification", "privilege-escalation"),
    ("T1548.005", "Abuse Elevation Control Mechanism: Temporary Elevated Cloud Access", "privilege-escalation"),
    ("T1562.001", "Impair Defenses: Disable or Modify Tools", "defense-evasion"),
    ("T1562.007", "Impair Defenses: Disable or Modify Cloud Firewall", "defense-evasion"),
    ("T1562.008", "Impair Defenses: Disable or Modify Cloud Logs", "defense-evasion"),
    ("T1535", "Unused/Unsupported Cloud Regions", "defense-evasion"),
    ("T1578.001", "Modify Cloud Compute Infrastructure: Create Snapshot", "defense-evasion"),
    ("T1578.002", "Modify Cloud Compute Infrastructure: Create Cloud Instance", "defense-evasion"),
    ("T1578.003", "Modify Cloud Compute Infrastructure: Delete Cloud Instance", "defense-evasion"),
    ("T1578.004", "Modify Cloud Compute Infrastructure: Revert Cloud Instance", "defense-evasion"),
    ("T1578.005", "Modify Cloud Compute Infrastructure: Modify Cloud Compute Configurations", "defense-evasion"),
    ("T1550.001", "Use Alternate Authentication Material: Application Access Token", "defense-evasion"),
    ("T1070", "Indicator Removal", "defense-evasion"),
    ("T1666", "Modify Cloud Resource Hierarchy", "defense-evasion"),
    ("T1599", "Network Boundary Bridging", "defense-evasion"),
    ("T1552", "Unsecured Credentials", "credential-access"),
    ("T1552.001", "Unsecured Credentials: Credentials In Files", "credential-access"),
    ("T1552.005", "Unsecured Credentials: Cloud Instance Metadata API", "credential-access"),
    ("T1555", "Credentials from Password Stores", "credential-access"),
    ("T1555.006", "Credentials from Password Stores: Cloud Secrets Management Stores", "credential-access"),
    ("T1528", "Steal Application Access Token", "credential-access"),
    ("T1110", "Brute Force", "credential-access"),
    ("T1621", "Multi-Factor Authentication Request Generation", "credential-access"),
    ("T1606.002", "Forge Web Credentials: SAML Tokens", "credential-access"),
    ("T1040", "Network Sniffing", "credential-access"),
    ("T1087.004", "Account Discovery: Cloud Account", "discovery"),
    ("T1069.003", "Permission Groups Discovery: Cloud Groups", "discovery"),
    ("T1580", "Cloud Infrastructure Discovery", "discovery"),
    ("T1526", "Cloud Service Discovery", "discovery"),
    ("T1538", "Cloud Service Dashboard", "discovery"),
    ("T1619", "Cloud Storage Object Discovery", "discovery"),
    ("T1654", "Log Enumeration", "discovery"),
    ("T1201", "Password Policy Discovery", "discovery"),
    ("T1046", "Network Service Discovery", "discovery"),
    ("T1021", "Remote Services", "lateral-movement"),
    ("T1021.004", "Remote Services: SSH", "lateral-movement"),
    ("T1021.007", "Remote Services: Cloud Services", "lateral-movement"),
    ("T1021.008", "Remote Services: Direct Cloud VM Connections", "lateral-movement"),
    ("T1530", "Data from Cloud Storage", "collection"),
    ("T1074.002", "Data Staged: Remote Data Staging", "collection"),
    ("T1119", "Automated Collection", "collection"),
    ("T1537", "Transfer Data to Cloud Account", "exfiltration"),
    ("T1567.002", "Exfiltration Over Web Service: Exfiltration to Cloud Storage", "exfiltration"),
    ("T1485", "Data Destruction", "impact"),
    ("T1486", "Data Encrypted for Impact", "impact"),
    ("T1490", "Inhibit System Recovery", "impact"),
    ("T1496", "Resource Hijacking", "impact"),
    ("T1496.001", "Resource Hijacking: Compute Hijacking", "impact"),
    ("T1496.004", "Resource Hijacking: Cloud Service Hijacking", "impact"),
    ("T1531", "Account Access Removal", "impact"),
    ("T1657", "Financial Theft", "impact"),
)
NAMES: Mapping[str, str] = {t: name for t, name, _ in TECHNIQUES}


def coverage(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Technique → the ids of the rules (catalogue entries) that name it, for every listed technique
    (empty ``rules``: not covered) plus any technique a rule names that the list lacks (at the end)."""
    by_technique: dict[str, list[str]] = {}
    for entry in entries:
        for technique in entry.get("mitre", ()):
            by_technique.setdefault(str(technique), []).append(str(entry["id"]))
    rows = [
        {"technique": t, "name": name, "tactic": tactic, "rules": sorted(by_technique.get(t, []))}
        for t, name, tactic in TECHNIQUES
    ]
    for technique in sorted(set(by_technique) - set(NAMES)):
        rows.append({"technique": technique, "name": "", "tactic": "other", "rules": sorted(by_technique[technique])})
    return rows


def matrix_markdown(rows: Iterable[Mapping[str, Any]]) -> str:
    """The coverage as a markdown table grouped by tactic, covered and uncovered alike."""
    listed = list(rows)
    covered = sum(1 for r in listed if r["rules"])
    lines = [
        f"{covered} of {len(listed)} techniques have at least one rule; a technique without one is marked "
        "**not covered**.",
        "",
        "| tactic | technique | rules |",
        "|---|---|---|",
    ]
    for row in listed:
        link = f"[{row['technique']}](https://attack.mitre.org/techniques/{row['technique'].replace('.', '/')}/)"
        name = f" {row['name']}" if row["name"] else ""
        rules = ", ".join(f"`{r}`" for r in row["rules"]) or "**not covered**"
        lines.append(f"| {row['tactic']} | {link}{name} | {rules} |")
    return "\n".join(lines)
