# Detection: exit 1 (remediate) when the temp folder holds more than 1 GB.
$size = (Get-ChildItem -Path $env:TEMP -Recurse -File -ErrorAction SilentlyContinue | Measure-Object -Property Length -Sum).Sum
if ($size -gt 1GB) {
    Write-Output "Temp folder holds $([math]::Round($size / 1GB, 2)) GB"
    exit 1
}
Write-Output "Temp folder is fine"
exit 0
