# escape=`

FROM mcr.microsoft.com/windows/nanoserver:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
COPY .\app\ C:\app\
WORKDIR C:\app
RUN Write-Host 'multi' ; `
    Write-Host 'line' ; `
    New-Item -ItemType Directory -Path C:\data
ENV APP_HOME=C:\app `
    LOG_DIR=C:\logs
CMD ["C:\\app\\app.exe"]
