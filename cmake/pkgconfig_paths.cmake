# Full paths for llmsvc.pc from LLMSVC_PC_PREFIX and the GNUInstallDirs variables.
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(LLMSVC_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(LLMSVC_PC_${kind} "${LLMSVC_PC_PREFIX}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
