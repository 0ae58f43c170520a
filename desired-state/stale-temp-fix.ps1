# Remediation: remove temp files not touched for 7 days.
$cutoff = (Get-Date).AddDays(-7)
Get-ChildItem -Path $env:TEMP -Recurse -File -ErrorAction SilentlyContinue |
    Where-Object { $_.LastWriteTime -lt $cutoff } |
    Remove-Item -Force -ErrorAction SilentlyContinue
Write-Output "Removed temp files older than 7 days"
exit 0
